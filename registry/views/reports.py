from datetime import date

from flask import Blueprint, Response, redirect, render_template, request, url_for

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
    """The upload file; while a row would be rejected, back to the report with the errors."""
    year, direction = _args()
    try:
        made = reports.submission(require_actor(), year, direction)
    except DomainError as exc:
        apply_errors(None, exc)
        return redirect(url_for("reports.annual", year=year, direction=direction))
    return Response(
        made.text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )
