from flask import Blueprint, Response, abort, current_app, render_template, request, stream_with_context

from registry import signing
from registry.extensions import db
from registry.forms import ConfirmForm
from registry.i18n import _
from registry.models import AuditEntry
from registry.services import anchor, exports, history, witnesses
from registry.services import audit as service
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, require_actor, requires

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100


@bp.get("/")
@requires("audit.read")
def index():
    try:
        filters = history.parse(request.args)
    except DomainError as exc:
        apply_errors(None, exc)
        filters = {}
    query = history.query(filters).order_by(AuditEntry.seq.desc())
    try:
        before = int(request.args.get("before", 0))
    except ValueError:
        before = 0
    # Beyond any sequence number it bounds nothing (and overflows PostgreSQL's 32-bit integer column).
    if 0 < before < 2**31:
        query = query.where(AuditEntry.seq < before)  # keyset: page 1,000 costs what page 1 costs
    rows = db.session.scalars(query.limit(PAGE)).all()
    args = {k: v for k, v in request.args.items() if k in history.FILTERS}
    # What else each entry concerns besides its own object, by name (one query per kind for the page).
    also = {e.seq: [s for s in e.subjects or [] if (s["type"], s["id"]) != (e.object_type, e.object_id)] for e in rows}
    return render_template(
        "audit/index.html",
        entries=rows,
        args=args,
        filters={name: _(text) for name, text in history.FILTERS.items()},
        link=history.link,
        also=also,
        names=history.subject_names((s["type"], s["id"]) for subjects in also.values() for s in subjects),
        subject_link=history.subject_link,
        more=len(rows) == PAGE,
        export_form=ConfirmForm(),
    )


@bp.post("/export.<fmt>")
@requires("audit.read")
def export(fmt: str):
    """The search's result as a file. A POST with the form's CSRF token: an export is itself an audit
    entry, so no other site may make an auditor's browser write one (a GET answers 405)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    filters = history.parse(request.form)
    chunks, mimetype, name = exports.export(require_actor(), filters, fmt)
    return Response(
        stream_with_context(exports.encoded(chunks)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/checkpoints.jsonl")
@requires("audit.verify")
def checkpoints():
    """Every signed checkpoint, for an auditor to keep and later check with `verify --against`."""
    return checkpoint_download()


def checkpoint_download() -> Response:
    origin = current_app.config["AUDIT_ORIGIN"]
    rows = (witnesses.encode(row) for row in witnesses.all_lines(origin))
    return Response(
        stream_with_context(rows),
        mimetype="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{origin}-checkpoints.jsonl"'},
    )


@bp.route("/verify", methods=["GET", "POST"])
@requires("audit.verify")
def verify():
    verdict = refused = None
    if request.method == "POST":
        try:
            verdict = service.verify_database()
        except signing.KeyMissing:
            # Never an "intact" without the signatures checked.
            refused = _(
                "Nothing was verified: the registry's signing key is missing, so the checkpoints' signatures "
                "cannot be checked. Create it on the server with registry audit keygen."
            )
    return render_template("audit/verify.html", verdict=verdict, refused=refused, form=ConfirmForm())


@bp.get("/public-key")
def public_key():
    """The registry's public key, for anyone checking an export or a checkpoint (no login)."""
    try:
        key = anchor.signer()
    except signing.KeyMissing:
        return render_template("audit/public_key.html", key=None), 404
    if request.accept_mimetypes.best_match(["text/html", "application/x-pem-file"]) == "application/x-pem-file":
        return Response(key.public_pem, mimetype="application/x-pem-file")
    return render_template("audit/public_key.html", key=key)
