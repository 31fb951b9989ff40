from flask import Blueprint, Response, current_app, render_template, request

from registry import clock, deadlines
from registry.i18n import _
from registry.services import deadlines as service
from registry.views.helpers import require_actor, requires

bp = Blueprint("deadlines", __name__, url_prefix="/deadlines")
PAGES = {
    "animal": ("animals.show", "animal_id"),
    "permit": ("permits.show", "permit_id"),
    "transfer": ("transfers.show", "transfer_id"),
    "facility": ("facilities.show", "facility_id"),
}


def _found():
    rule = request.args.get("rule") if request.args.get("rule") in deadlines.BY_CODE else None
    return service.items(require_actor(), rule, overdue_only=request.args.get("overdue") == "1"), rule


@bp.get("/")
@requires("animal.read_all", "animal.read_own")
def index():
    found, rule = _found()
    try:
        # Past a million pages there is nothing to show.
        page = min(max(1, int(request.args.get("page", 1))), 10**6)
    except ValueError:
        page = 1
    size = current_app.config["PAGE_SIZE"]
    return render_template(
        "deadlines.html",
        # One page of the open items: a register with thousands of them rendered every one.
        items=found[(page - 1) * size : page * size],
        total=len(found),
        page=page,
        has_next=len(found) > page * size,
        # Each rule's words translated once for the page, not once per row.
        words={r.code: (_(r.title), _(r.description)) for r in deadlines.RULES},
        rules=deadlines.RULES,
        rule=rule,
        today=clock.today(),
        pages=PAGES,
        label=service.label,
        overdue=request.args.get("overdue") == "1",
    )


@bp.get("/export.csv")
@requires("animal.read_all", "animal.read_own")
def export():
    found, _ = _found()
    return Response(
        service.as_csv(found),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="deadlines.csv"'},
    )
