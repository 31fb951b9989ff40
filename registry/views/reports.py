from datetime import date

from flask import Blueprint, Response, render_template, request

from registry.services import reports
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, require_actor, requires

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _args() -> tuple[int, str]:
    try:
        year = int(request.args.get("year") or date.today().year)
    except ValueError:
        year = date.today().year
    return year, request.args.get("direction") or "export"


@bp.get("/annual")
@requires("report.annual")
def annual():
    year, direction = _args()
    try:
        found = reports.rows(require_actor(), year, direction)
    except DomainError as exc:
        apply_errors(None, exc)
        found = []
    return render_template(
        "reports/annual.html",
        year=year,
        direction=direction,
        rows=found,
        columns=reports.header(direction),
        findings=reports.check(found),
    )


@bp.get("/annual.csv")
@requires("report.annual")
def annual_csv():
    year, direction = _args()
    text = reports.as_csv(reports.rows(require_actor(), year, direction), direction)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="cites-{direction}-{year}.csv"'},
    )
