"""What the border tests share: the record a refusal must leave as it was, chips,
and endorsement bodies."""

from registry.models import Animal, AuditEntry, EndorsedLine, Identifier, Permit


def snapshot(session):
    """What a refusal must leave as it was: the audit log, the animals and their marks, the endorsements."""
    session.expire_all()
    return (
        session.query(AuditEntry).count(),
        sorted((a.id, a.state, a.owner_party_id, a.holder_party_id) for a in session.query(Animal)),
        sorted((i.animal_id, i.value, i.active) for i in session.query(Identifier)),
        session.query(EndorsedLine).count(),
        sorted((p.id, p.state) for p in session.query(Permit)),
    )


def exit_body(*animal_ids, quantity=None):
    line = {"line_no": 1, "quantity": quantity or len(animal_ids), "animal_ids": list(animal_ids)}
    return {"direction": "exit", "port": "ICN", "transport_doc": "AWB 77", "lines": [line]}


def entry_body(quantity, *described, **line):
    return {
        "direction": "entry",
        "port": "ICN",
        "transport_doc": "AWB 78",
        "lines": [{"line_no": 1, "quantity": quantity, "animals": list(described), **line}],
    }


def chip(*values):
    return {"identifiers": [{"kind": "microchip", "value": v} for v in values]}
