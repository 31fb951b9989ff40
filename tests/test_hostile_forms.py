"""Hostile values in every field of every form: refused with the form shown again (or a 4xx) and
nothing written, or accepted, stored as sent and shown escaped. Never a 500.

Each form is read off its page (its fields, hidden version and chosen options, as a browser sends
them), completed with values that are accepted, then one field at a time is replaced by a hostile value.
Every example starts from the same state: it runs inside a savepoint that is rolled back after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import func, select

from registry.extensions import db, limiter
from registry.models import AuditEntry
from tests import fuzzing, hostile, uses
from tests.conftest import PASSWORD
from tests.helpers import animal_in, issued_permit, permit_in


class _Forms(HTMLParser):
    """The post forms of a page: {action: {name: value}}, as a browser would submit them untouched."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._current = self.forms.setdefault(a.get("action") or "", {})
        if self._current is None or not a.get("name") and tag != "option":
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self._current[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            if self._select not in self._current or "selected" in a:
                self._current[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a["name"]
            self._current[a["name"]] = ""

    def handle_data(self, data):
        if self._current is not None and self._textarea:
            self._current[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@dataclass
class Form:
    role: str
    page: str  # where the form is shown
    action: str  # where it is sent
    valid: dict = field(default_factory=dict)  # completes the form so that it is accepted
    #: Fields stored as typed (after trimming): an accepted hostile value must come back the same.
    verbatim: tuple = ()


def _forms(w, objects) -> dict[str, Form]:
    permit, draft, animal, submitted = objects["permit"], objects["draft"], objects["animal"], objects["submitted"]
    return {
        "permit application": Form(
            "zoo",
            "/permits/new",
            "/permits/new",
            {
                "doc_type": "import",
                "exporter_party_id": str(w.exporter),
                "import_country": "KR",
                "export_country": "ZA",
                "purpose_code": "Z",
                "source_code": "C",
                "foreign_permit_no": "ZA-HOSTILE-1",
                "lines-0-species_id": str(w.parrot),
                "lines-0-term_code": "LIV",
                "lines-0-quantity": "2",
            },
            ("lines-0-description",),
        ),
        "permit edit": Form("zoo", f"/permits/{draft}/edit", f"/permits/{draft}/edit", {}, ("lines-0-description",)),
        "permit decision": Form(
            "officer", f"/permits/{submitted}", f"/permits/{submitted}/actions/approve", {}, ("reason",)
        ),
        "declare an animal": Form(
            "officer", f"/permits/{permit}", f"/permits/{permit}/lines/1/animals", {"sex": "F"}, ()
        ),
        "birth": Form(
            "zoo", "/animals/births/new", "/animals/births/new", {"name": "Polly", "birth_date": "2026-01-02"}
        ),
        "animal event": Form(
            "zoo",
            f"/animals/{animal}/events/death",
            f"/animals/{animal}/events/death",
            {"cause": "old age"},
            ("cause",),
        ),
        "identifier": Form(
            "zoo",
            f"/animals/{animal}",
            f"/animals/{animal}/identifiers",
            {"kind": "tag", "value": "TAG-1"},
            ("note",),
        ),
        "endorsement": Form(
            "customs",
            f"/customs/permits/{permit}/endorse",
            f"/customs/permits/{permit}/endorse",
            {"port": "ICN", "transport_doc": "AWB 5", "lines-0-quantity": "1", "lines-0-outcome": "cleared"},
            ("transport_doc",),
        ),
        "facility application": Form(
            "zoo",
            "/facilities/apply",
            "/facilities/apply",
            {
                "name": "Hostile aviary",
                "address": "Seoul",
                "allowances-0-species_id": str(w.parrot),
                "allowances-0-capacity": "2",
            },
            ("name", "address"),
        ),
        "facility inspection": Form(
            "officer",
            f"/facilities/{w.zoo_site}",
            f"/facilities/{w.zoo_site}/inspect",
            {"result": "passed", "findings": "clean"},
            ("findings",),
        ),
        "transfer offer": Form(
            "zoo",
            "/transfers/new",
            "/transfers/new",
            {"animal_ids": str(animal), "facility_id": str(w.breeder_site), "ownership": "y"},
            ("note",),
        ),
        "transfer answer by code": Form("breeder", "/transfers/", "/transfers/answer", {"code": objects["code"]}, ()),
        "transfer decline": Form(
            "breeder",
            f"/transfers/{objects['transfer']}",
            f"/transfers/{objects['transfer']}/decline",
            {"note": "no room"},
            ("note",),
        ),
        "new user": Form(
            "admin",
            "/admin/users",
            "/admin/users",
            {"username": "newclerk", "role": "auditor", "password": "a long enough passphrase 7"},
            ("display_name",),
        ),
        "edit user": Form(
            "admin",
            f"/admin/users/{w.users['auditor'].id}",
            f"/admin/users/{w.users['auditor'].id}",
            {"display_name": "Audit Kim"},
            ("display_name",),
        ),
        "species": Form(
            "admin",
            f"/admin/species/{w.parrot}",
            f"/admin/species/{w.parrot}",
            {"name_en": "Grey parrot"},
            ("name_en", "name_ko", "annotation"),
        ),
        "deadline": Form("admin", "/admin/deadlines", "/admin/deadlines", {"code": "carcass_disposal", "days": "5"}),
        "token": Form(
            "zoo", "/profile/", "/profile/", {"name": "scanner", "days": "30", "password": PASSWORD}, ("name",)
        ),
    }


@pytest.fixture
def forms(client, login, world, session, monkeypatch):
    """Each form with its accepted values; checked accepted once before anything hostile is sent."""
    monkeypatch.setattr(limiter, "enabled", False)
    bird = animal_in(world, "in_captivity")
    objects = {
        "permit": issued_permit(world).id,
        "draft": permit_in(world, "draft").id,
        "submitted": permit_in(world, "submitted").id,
        "animal": bird.id,
    }
    offered = animal_in(world, "in_captivity")
    transfer = uses.offer(
        world.actor("zoo"), {"animal_ids": [offered.id], "facility_id": world.breeder_site, "ownership": True}
    )
    objects |= {"transfer": transfer.id, "code": transfer.code}
    found = {}
    for name, form in _forms(world, objects).items():
        login(world.users[form.role])
        page = client.get(form.page)
        assert page.status_code == 200, (name, page.status_code)
        parser = _Forms()
        parser.feed(page.get_data(as_text=True))
        parser.forms[form.page] = parser.forms.pop("", {}) | parser.forms.get(form.page, {})  # no action: the page
        assert form.action in parser.forms, (name, list(parser.forms))
        found[name] = (form, parser.forms[form.action] | form.valid)
    return found


@pytest.fixture
def rolled_back(session):
    """Run a function inside a savepoint that is always rolled back: each example sees the same registry."""
    conn = session.get_bind()

    def run(fn):
        savepoint = conn.begin_nested()
        try:
            return fn()
        finally:
            savepoint.rollback()

    return run


def _last_seq() -> int:
    return db.session.scalar(select(func.coalesce(func.max(AuditEntry.seq), 0)))


def _accepted(changed: dict, since: int) -> bool:
    """Whether a request did something: wrote rows besides the audit log, or recorded an action (an
    edit changes rows without adding any) other than a refusal."""
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.seq > since)).all()
    return bool(set(changed) - {"audit_entry", "audit_subject"}) or any(
        not a.startswith("access.") and not a.endswith((".denied", ".refused")) for a in actions
    )


def post(client, world, form: Form, data: dict, field_name: str, value: str) -> None:
    before, since = fuzzing.row_counts(), _last_seq()
    # Sent as bytes: a lone surrogate cannot be encoded, so a browser's bytes for it go instead.
    body = hostile.as_query({k: hostile.utf8(v) for k, v in (data | {field_name: value}).items()})
    response = client.post(form.action, data=body, content_type="application/x-www-form-urlencoded")
    after = fuzzing.row_counts()
    changed = fuzzing.written(before, after)
    fuzzing.assert_readable_page(response, [value])
    if not _accepted(changed, since):
        # Refused, nothing but a denial (if any) recorded: the form again with the error next to its
        # field or in a message, a refusal page (4xx), or a redirect that carries the message.
        if response.status_code == 200:
            body = response.get_data(as_text=True)
            assert 'class="error"' in body or 'class="flash error"' in body, (field_name, value)
        elif response.status_code == 302:
            shown = client.get(response.headers["Location"]).get_data(as_text=True)
            assert 'class="flash error"' in shown, (field_name, value)
        return
    # Accepted: the value is kept as typed (trimmed) and shown escaped where the form leads.
    shown = client.get(response.headers["Location"]) if response.status_code == 302 else response
    if shown.mimetype != "text/html":  # an endorsement leads to its receipt
        return fuzzing.assert_well_formed_file(shown)
    page = shown.get_data(as_text=True)
    fuzzing.assert_readable_page(shown, [value])
    if field_name in form.verbatim and value.strip():
        assert str(escape(value.strip())) in page, (field_name, value)


def _runner(client, login, world, rolled_back, settings, form, data):
    fields = sorted(data) + ["unexpected"]

    @settings
    @given(field_name=st.sampled_from(fields), value=hostile.text())
    @example(field_name=fields[0], value="x" * 100_000)
    def run(field_name, value):
        login(world.users[form.role])  # before the savepoint: logging in commits the test's session
        rolled_back(lambda: post(client, world, form, data, field_name, value))

    return run


def _fuzz(forms, client, login, world, rolled_back, settings):
    for name, (form, data) in forms.items():
        try:
            _runner(client, login, world, rolled_back, settings, form, data)()
        except Exception as exc:
            exc.add_note(f"form: {name} ({form.action})")
            raise


def test_every_form_is_accepted_as_completed(forms, client, login, world, rolled_back):
    # Without this the fuzzing below could pass by refusing everything.
    for name, (form, data) in forms.items():

        def send(form=form, data=data):
            before, since = fuzzing.row_counts(), _last_seq()
            response = client.post(form.action, data=data)
            changed = fuzzing.written(before, fuzzing.row_counts())
            return response, changed, _accepted(changed, since)

        login(world.users[form.role])
        response, changed, accepted = rolled_back(send)
        problems = re.findall(r'class="(?:error|flash[^"]*)"[^>]*>([^<]*)', response.get_data(as_text=True))
        assert response.status_code in (200, 302) and accepted, (name, response.status_code, changed, problems, data)


def test_every_field_of_every_form_takes_hostile_values(forms, client, login, world, rolled_back):
    _fuzz(forms, client, login, world, rolled_back, settings(fuzzing.FAST, max_examples=4))


def _sweep(forms, client, login, world, rolled_back, values) -> None:
    """Each field of each form with values in turn: *values(i)* for the i-th field sent."""
    i = 0
    for name, (form, data) in forms.items():
        for field_name in sorted(data):
            for value in values(i):
                i += 1
                try:
                    login(world.users[form.role])
                    rolled_back(lambda f=form, d=data, n=field_name, v=value: post(client, world, f, d, n, v))
                except Exception as exc:
                    exc.add_note(f"form: {name} ({form.action}), field {field_name}, value {value!r}")
                    raise


def test_every_field_of_every_form_takes_a_hostile_value_of_some_kind(forms, client, login, world, rolled_back):
    # One value per field, the kinds in turn, so that each kind meets many fields within the time.
    _sweep(forms, client, login, world, rolled_back, lambda i: [hostile.ONE_OF_EACH[i % len(hostile.ONE_OF_EACH)]])


@pytest.mark.slow
def test_every_field_of_every_form_takes_every_kind_of_hostile_value(forms, client, login, world, rolled_back):
    _sweep(forms, client, login, world, rolled_back, lambda i: hostile.ONE_OF_EACH)


@pytest.mark.slow
def test_every_field_of_every_form_takes_hostile_values_at_length(forms, client, login, world, rolled_back):
    _fuzz(forms, client, login, world, rolled_back, fuzzing.SLOW)
