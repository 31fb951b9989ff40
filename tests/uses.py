"""The use cases called with plain dicts, loaded by their schemas as a form or an API client's
body would be: a test names an event and its fields, and meets the same checks."""

from __future__ import annotations

from registry.commands import animals as commands
from registry.commands import endorsements as crossing
from registry.commands import load
from registry.commands import permits as permit_commands
from registry.services import animals, applications, arrivals, endorsements, identifiers, permits


def fire(actor, animal_id: int, event: str, data: dict | None = None, expected_version: int | None = None):
    fields = dict(data or {})
    if expected_version is not None:
        fields["version"] = expected_version
    return animals.record_animal_event(actor, animal_id, commands.event_command(event, fields))


def declare(actor, permit_line_id: int, data: dict):
    return arrivals.declare(actor, permit_line_id, load(commands.DeclarationSchema, data))


def register_birth(actor, data: dict):
    return arrivals.register_birth(actor, load(commands.BirthSchema, data))


def add_identifier(actor, animal_id: int, kind: str, value: str, **more):
    return identifiers.add_identifier(
        actor, animal_id, load(commands.NewIdentifierSchema, {"kind": kind, "value": value, **more})
    )


retire_identifier = identifiers.retire_identifier


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
