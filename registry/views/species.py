from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from registry.models import APPENDICES, Species
from registry.views.helpers import paginate, requires

bp = Blueprint("species", __name__, url_prefix="/species")


@bp.get("/")
@requires("species.read")
def index():
    q = (request.args.get("q") or "").strip()
    appendix = request.args.get("appendix") or ""
    query = select(Species).order_by(Species.scientific_name)
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(
                Species.scientific_name.ilike(like),
                Species.name_en.ilike(like),
                Species.name_ko.ilike(like),
                Species.family.ilike(like),
            )
        )
    if appendix in APPENDICES:
        query = query.where(Species.appendix == appendix)
    return render_template("species/index.html", **paginate(query), q=q, appendix=appendix, appendices=APPENDICES)
