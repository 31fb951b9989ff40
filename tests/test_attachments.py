"""Uploads: content checked (not the name), size-limited, stored by hash, served only in scope."""

import io

import pytest

from registry.models import Attachment, AuditEntry
from registry.services import attachments
from registry.services.errors import NotFound, ValidationFailed
from tests.helpers import animal_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%test certificate\n"


def test_accepts_by_content_and_refuses_the_rest(world, session, app):
    bird = animal_in(world, "in_captivity")
    row = attachments.attach(world.actor("zoo"), "animal", bird.id, "photo", "bird.png", PNG)
    assert (row.media_type, row.size) == ("image/png", len(PNG))
    for name, data, words in (
        ("cert.pdf", b"<html>not a pdf</html>", "checked by their content"),
        ("empty.pdf", b"", "empty"),
        ("big.pdf", PDF + b"0" * app.config["MAX_UPLOAD_BYTES"], "at most"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            attachments.attach(world.actor("zoo"), "animal", bird.id, "vet_certificate", name, data)
        assert words in exc.value.fields["file"]
    assert session.query(Attachment).count() == 1
    assert session.query(AuditEntry).filter_by(action="attachment.add").one().after["sha256"] == row.sha256


def test_same_content_is_stored_once_and_served_in_scope_only(client, login, world, session):
    bird = animal_in(world, "in_captivity")
    first = attachments.attach(world.actor("zoo"), "animal", bird.id, "vet_certificate", "a.pdf", PDF)
    second = attachments.attach(world.actor("zoo"), "animal", bird.id, "other", "../../etc/b.pdf", PDF)
    assert first.sha256 == second.sha256 and second.filename == "b.pdf"
    login(world.users["zoo"])
    response = client.get(f"/files/{first.id}")
    assert response.status_code == 200 and response.data == PDF and response.mimetype == "application/pdf"
    login(world.users["breeder"])
    assert client.get(f"/files/{first.id}").status_code == 404
    with pytest.raises(NotFound):
        attachments.attach(world.actor("breeder"), "animal", bird.id, "photo", "x.png", PNG)


def test_upload_from_the_animal_page(client, login, world, session):
    bird = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    assert "File (PDF, JPEG or PNG" in client.get(f"/animals/{bird.id}").get_data(as_text=True)
    client.post(
        f"/files/animal/{bird.id}",
        data={"kind": "photo", "file": (io.BytesIO(PNG), "bird.png")},
        content_type="multipart/form-data",
    )
    assert session.query(Attachment).filter_by(object_id=bird.id).one().kind == "photo"
    refused = client.post(
        f"/files/animal/{bird.id}",
        data={"kind": "photo", "file": (io.BytesIO(b"MZ..."), "x.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "checked by their content" in refused.get_data(as_text=True)
