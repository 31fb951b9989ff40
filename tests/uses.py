"""The use cases called with plain dicts, loaded by their schemas as a form or an API
client's body would be: a test names an event and its fields, and meets the same checks."""

from __future__ import annotations

from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.commands import endorsements as crossing
from registry.commands import facilities as facility_commands
from registry.commands import load
from registry.commands import permits as permit_commands
from registry.commands import transfers as transfer_commands
from registry.services import animals, applications, arrivals, endorsements, facilities, identifiers, permits, transfers


def fire(actor, animal_id: int, event: str, data: dict | None = None, expected_version: int | None = None):
    fields = dict(data or {})
    if expected_version is not None:
        fields["version"] = expected_version
    return animals.record_animal_event(actor, animal_id, commands.event_command(event, fields))


def declare(actor, permit_line_id: int, data: dict):
    return arrivals.declare(actor, permit_line_id, load(arrival.DeclarationSchema, data))


def register_birth(actor, data: dict):
    return arrivals.register_birth(actor, load(arrival.BirthSchema, data))


def add_identifier(actor, animal_id: int, kind: str, value: str, **more):
    return identifiers.add_identifier(
        actor, animal_id, load(arrival.NewIdentifierSchema, {"kind": kind, "value": value, **more})
    )


retire_identifier = identifiers.retire_identifier


def _allowances(data: dict) -> dict:
    """Allowances may be written {species_id: capacity}, as a form's rows would hold them."""
    fields = dict(data)
    if isinstance(fields.get("allowances"), dict):
        fields["allowances"] = [{"species_id": s, "capacity": c} for s, c in fields["allowances"].items()]
    return fields


def apply_facility(actor, data: dict):
    return facilities.apply(actor, load(facility_commands.FacilityApplicationSchema, _allowances(data)))


def register_facility(actor, registration_no: str, name: str, holder_party_id: int, address: str, allowances: dict):
    data = {"registration_no": registration_no, "name": name, "holder_party_id": holder_party_id, "address": address}
    return facilities.register_facility(
        actor, load(facility_commands.FacilityRegistrationSchema, _allowances({**data, "allowances": allowances}))
    )


def facility_event(actor, facility_id: int, event: str, data: dict | None = None, expected_version: int | None = None):
    fields = _allowances(data or {})
    if expected_version is not None:
        fields["version"] = expected_version
    return facilities.record_facility_event(actor, facility_id, facility_commands.action_command(event, fields))


def offer(actor, data: dict):
    return transfers.start(actor, load(transfer_commands.TransferOfferSchema, data))


def transfer_event(actor, event: str, transfer_id: int | None = None, code: str | None = None, note: str | None = None):
    if code is not None:
        handshake = load(transfer_commands.HandshakeSchema, {"code": code, "event": event, "note": note})
        return transfers.answer_by_code(actor, handshake)
    return transfers.record_transfer_event(actor, transfer_id, transfer_commands.answer_command(event, {"note": note}))


# ---------------------------------------------------------------- permits


def create_application(actor, data: dict):
    return applications.create_application(actor, load(permit_commands.ApplicationSchema, data))


def update_application(actor, permit_id: int, data: dict, expected_version: int | None = None):
    fields = dict(data) | ({"version": expected_version} if expected_version is not None else {})
    return applications.update_application(actor, permit_id, load(permit_commands.ApplicationSchema, fields))


def copy_application(actor, permit_id: int, replace: bool = False):
    return applications.copy_application(actor, permit_id, permit_commands.Copy(replace=replace))


def permit_event(actor, permit_id: int, event: str, data: dict | None = None, expected_version: int | None = None):
    fields = dict(data or {}) | ({"version": expected_version} if expected_version is not None else {})
    return permits.record_permit_event(actor, permit_id, event, load(permit_commands.PermitActionSchema, fields))


def endorse(actor, permit_id: int, data: dict):
    return endorsements.endorse(actor, permit_id, load(crossing.EndorseSchema, data))
