from flask import Blueprint, Response, render_template, request

from registry import clock, deadlines
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
    return render_template(
        "deadlines.html",
        items=found,
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
