from flask import Blueprint, Response, flash, redirect, request, url_for

from registry.i18n import _
from registry.services import attachments
from registry.services.errors import DomainError, NotFound
from registry.views.helpers import apply_errors, current_actor, deny, requires

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
            current_actor(),
            object_type,
            object_id,
            request.form.get("kind", "other"),
            upload.filename if upload else "",
            upload.read() if upload else b"",
        )
    except NotFound:
        deny("attachment.scope", 404)
    except DomainError as exc:
        apply_errors(None, exc)
    else:
        flash(_("File attached."), "success")
    endpoint, arg = PAGES[object_type]
    return redirect(url_for(endpoint, **{arg: object_id}))


@bp.get("/<int:attachment_id>")
@requires("animal.read_all", "animal.read_own", "facility.read_all", "facility.apply")
def download(attachment_id: int):
    try:
        row, data = attachments.read(current_actor(), attachment_id)
    except NotFound:
        deny("attachment.scope", 404)
    return Response(
        data,
        mimetype=row.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.filename}"',
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )
