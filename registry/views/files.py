import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, request, url_for

from registry.i18n import _
from registry.services import attachments
from registry.services.errors import DomainError, NotFound
from registry.views.helpers import apply_errors, deny, require_actor, requires

bp = Blueprint("files", __name__, url_prefix="/files")
PAGES = {"animal": ("animals.show", "animal_id"), "facility": ("facilities.show", "facility_id")}


@bp.post("/<object_type>/<int:object_id>")
@requires("animal.identify", "facility.apply", "facility.manage")
def upload(object_type: str, object_id: int):
    if object_type not in PAGES:
        deny("attachment.scope", 404)
    upload = request.files.get("file")
    try:
        attachments.attach(
            require_actor(),
            object_type,
            object_id,
            request.form.get("kind", "other"),
            (upload.filename or "") if upload else "",
            upload.read() if upload else b"",
        )
    except NotFound as exc:
        exc.capability = "attachment.scope"
        raise
    except DomainError as exc:
        apply_errors(None, exc)
    else:
        flash(_("File attached."), "success")
    endpoint, arg = PAGES[object_type]
    values: dict[str, Any] = {arg: object_id}
    return redirect(url_for(endpoint, **values))


@bp.get("/<int:attachment_id>")
@requires("animal.read_all", "animal.read_own", "facility.read_all", "facility.apply")
def download(attachment_id: int):
    try:
        row, data = attachments.read(require_actor(), attachment_id)
    except NotFound:
        deny("attachment.scope", 404)
    response = Response(
        data,
        mimetype=row.media_type,
        headers={"Content-Security-Policy": "default-src 'none'", "Cache-Control": "private, no-store"},
    )
    response.headers.set("Content-Disposition", "attachment", **_download_name(row.filename))
    return response


def _download_name(name: str) -> dict[str, str]:
    """RFC 6266 parameters for *name*: a WSGI server sends headers as Latin-1, so a Korean name goes
    in ``filename*`` (UTF-8, percent-encoded) with an ASCII ``filename`` for older clients; Werkzeug
    quotes both, so a quote in the name cannot end the parameter early."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").strip() or "file"
        return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")}
    return {"filename": name}
