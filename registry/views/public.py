"""Pages anyone may open without logging in."""

from flask import Blueprint, jsonify, render_template, request

from registry.extensions import limiter
from registry.i18n import _
from registry.services import verification

bp = Blueprint("public", __name__)


@bp.get("/verify/<path:number>")
@limiter.limit("30 per minute; 300 per hour")
def verify(number: str):
    """Is this printed permit genuine, and what is its status? Answers JSON when asked."""
    result = verification.check(number, request.args.get("t"))
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    if wants_json:
        body = result or {"authentic": False, "detail": _("no document with this number and security code")}
        return jsonify(body), 200 if result else 404
    return render_template("verify.html", result=result, number=number), 200 if result else 404
