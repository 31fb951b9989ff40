from flask import Blueprint, render_template, request
from sqlalchemy import select

from registry.extensions import db
from registry.models import AuditEntry
from registry.services import audit as service
from registry.views.helpers import requires

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@requires("audit.read")
def index():
    query = select(AuditEntry).order_by(AuditEntry.seq.desc())
    for name in ("object_type", "object_id", "action"):
        value = (request.args.get(name) or "").strip()
        if value:
            query = query.where(getattr(AuditEntry, name) == value)
    try:
        before = int(request.args.get("before", 0))
    except ValueError:
        before = 0
    if before:
        query = query.where(AuditEntry.seq < before)  # keyset: page 1,000 costs what page 1 costs
    rows = db.session.scalars(query.limit(100)).all()
    return render_template("audit/index.html", entries=rows, args=request.args)


@bp.route("/verify", methods=["GET", "POST"])
@requires("audit.verify")
def verify():
    verdict = service.verify_database() if request.method == "POST" else None
    from registry.forms import ConfirmForm

    return render_template("audit/verify.html", verdict=verdict, form=ConfirmForm())
