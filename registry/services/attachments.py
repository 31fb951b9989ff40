"""Files attached to animals and facilities: checked by content, stored by hash, shown in scope."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from flask import current_app

from registry.extensions import db
from registry.i18n import _
from registry.models import ATTACHMENT_KINDS, Animal, Attachment, Facility
from registry.permissions import Actor, can_see_animal, can_see_facility, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import NotFound, ValidationFailed

#: What the first bytes of an accepted file must be; the name and the declared type are not trusted.
SIGNATURES = {b"%PDF-": "application/pdf", b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
#: The file name's ending each type is kept under (the first is given when the name has another).
EXTENSIONS = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}
TARGETS = {
    "animal": (Animal, can_see_animal, "animal.identify"),
    "facility": (Facility, can_see_facility, "facility.apply"),
}


def sniff(head: bytes) -> str | None:
    return next((media for magic, media in SIGNATURES.items() if head.startswith(magic)), None)


def _stored_name(filename: str, media: str | None) -> str:
    """The name a file is kept and served under: harmless characters, ending as its content is
    (a PDF sent as report.html is served as report.pdf, never as a page)."""
    name = re.sub(r"[^\w.\- ]", "_", os.path.basename(filename or "upload"))[:195] or "upload"
    endings = EXTENSIONS.get(media or "", ())
    if endings and not name.lower().endswith(endings):
        name = f"{Path(name).stem}{endings[0]}"
    return name


def _path(sha256: str) -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / sha256[:2] / sha256


def _target(session, actor: Actor, object_type: str, object_id: int):
    if object_type not in TARGETS:
        raise NotFound(_("no such record"))
    model, can_see, _capability = TARGETS[object_type]
    obj = session.get(model, object_id)
    if obj is None or not can_see(actor, obj):
        raise NotFound(_("no such record"))
    return obj


def attach(actor: Actor, object_type: str, object_id: int, kind: str, filename: str, data: bytes) -> Attachment:
    """Keep *data* (PDF, JPEG or PNG, at most MAX_UPLOAD_BYTES) and attach it to the record."""
    if object_type in TARGETS:
        require(actor, TARGETS[object_type][2], "facility.manage")
    _target(db.session, actor, object_type, object_id)  # scope before the file: 404 tells nothing of it
    errors = {}
    if kind not in ATTACHMENT_KINDS:
        errors["kind"] = _("one of %(values)s", values=", ".join(ATTACHMENT_KINDS))
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    media = sniff(data[:16])
    if not data:
        errors["file"] = _("the file is empty")
    elif len(data) > limit:
        errors["file"] = _("at most %(size)s MB", size=limit // (1024 * 1024))
    elif media is None:
        errors["file"] = _("only PDF, JPEG or PNG files (checked by their content)")
    if errors:
        raise ValidationFailed(_("the file was not accepted"), errors)
    name = _stored_name(filename, media)
    digest = hashlib.sha256(data).hexdigest()
    with write_transaction() as session:
        _target(session, actor, object_type, object_id)
        path = _path(digest)
        if not path.exists():  # same content, same file: written once, never overwritten
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(path)
        row = Attachment(
            object_type=object_type,
            object_id=object_id,
            kind=kind,
            sha256=digest,
            media_type=media,
            size=len(data),
            filename=name,
            uploaded_by_id=actor.user_id,
            uploaded_by=actor.username,
        )
        session.add(row)
        session.flush()
        audit.record(actor, "attachment.add", object_type, object_id, None, row.as_audit())
    return row


def read(actor: Actor, attachment_id: int) -> tuple[Attachment, bytes]:
    """The file, for someone who may see the record it belongs to (else NotFound)."""
    from registry.extensions import db

    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(_("no such file"))
    _target(db.session, actor, row.object_type, row.object_id)
    data = _path(row.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise NotFound(_("the stored file no longer matches its fingerprint"))
    return row, data


def of(object_type: str, object_id: int) -> Sequence[Attachment]:
    from sqlalchemy import select

    from registry.extensions import db

    return db.session.scalars(
        select(Attachment)
        .where(Attachment.object_type == object_type, Attachment.object_id == object_id)
        .order_by(Attachment.id)
    ).all()
