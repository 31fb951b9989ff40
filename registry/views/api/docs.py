"""A browsable page of the API, rendered from its OpenAPI document (no scripts, no external assets)."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)


@bp.get("/api/v1/docs")
def index():
    spec = current_app.extensions["registry_api"].spec.to_dict()
    operations = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operations.append({"method": method.upper(), "path": path, **op})
    return render_template("api_docs.html", spec=spec, operations=operations)
