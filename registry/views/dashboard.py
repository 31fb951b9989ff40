from flask import Blueprint, render_template

from registry import charts
from registry.services import dashboard
from registry.views.helpers import requires

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.get("/")
@requires("report.annual", "audit.read")
def index():
    return render_template(
        "dashboard.html", f=dashboard.figures(), bars=charts.bars, disposal_days=dashboard.DISPOSAL_DAYS
    )
