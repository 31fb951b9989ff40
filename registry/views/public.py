"""Pages anyone may open without logging in."""

from flask import Blueprint, jsonify, render_template, request

from registry.extensions import limiter
from registry.i18n import _
from registry.services import verification

bp = Blueprint("public", __name__)
#: One budget for every way of asking (token, code, the form): a guesser gains nothing by switching.
verify_limit = limiter.shared_limit("30 per minute; 300 per hour", scope="verify")


def _answer(result: dict | None, number: str):
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    if wants_json:
        body = result or {"authentic": False, "detail": _("no document with this number and security code")}
        return jsonify(body), 200 if result else 404
    return render_template("verify.html", result=result, number=number, asked=True), 200 if result else 404


@bp.get("/verify/<path:number>")
@verify_limit
def verify(number: str):
    """Is this printed permit genuine, and what is its status? By the QR code's token (``t``) or the
    printed verification code (``code``). Answers JSON when asked."""
    return _answer(verification.check(number, request.args.get("t"), request.args.get("code")), number)


@bp.get("/verify")
@verify_limit
def verify_form():
    """The same by typing the permit's number and the verification code printed under its QR code."""
    number, code = request.args.get("number", "").strip(), request.args.get("code", "").strip()
    if not number and not code:
        return render_template("verify.html", result=None, number="", asked=False)
    return _answer(verification.check(number, None, code), number)
