"""Exports of the event history: streamed, recorded in the audit log, and (JSONL) verifiable offline."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import func, select

from registry import audit_chain, audit_export
from registry.csv_cells import cell
from registry.database import reader
from registry.i18n import _
from registry.models import AuditEntry, AuditHead, AuditSubject
from registry.models.base import utcnow
from registry.permissions import Actor, require
from registry.services import anchor, audit, history
from registry.services.errors import ValidationFailed

FORMATS = {"jsonl": "application/jsonl", "csv": "text/csv", "pdf": "application/pdf"}
#: A PDF is for reading; past this many entries, the report says to narrow the query or use CSV.
PDF_LIMIT = 20_000


def _entries(filters: dict, up_to: int, limit: int | None = None) -> Iterator[dict]:
    """Matching entries in chain order, streamed (Core rows, fetched in chunks) so memory stays flat."""
    statement = history.query(filters).where(AuditEntry.seq <= up_to).order_by(AuditEntry.seq)
    if limit is not None:
        statement = statement.limit(limit)
    format_time = audit_chain.format_time
    for row in audit.entry_rows(statement, session=reader()):
        row["occurred_at"] = format_time(row["occurred_at"])
        yield row


def _latest(filters: dict, up_to: int) -> list[dict] | None:
    """For an export of one animal's history (the ``animal`` filter alone), each subject it follows
    with its latest entry up to *up_to*: the signed manifest states them, so the verifier can follow
    the entries' links back from there, and its name (``history.subject_names``), so the verdict can say
    which animal it is. None for any other query, which is no subject's whole history."""
    if set(filters) != {"animal"}:
        return None
    rows = (
        reader()
        .execute(
            select(AuditSubject.subject_type, AuditSubject.subject_id, func.max(AuditSubject.seq))
            .where(history.animal_subjects(filters["animal"]), AuditSubject.seq <= up_to)
            .group_by(AuditSubject.subject_type, AuditSubject.subject_id)
            .order_by(AuditSubject.subject_type, AuditSubject.subject_id)
        )
        .all()
    )
    names = history.subject_names((kind, ident) for kind, ident, _latest in rows)
    return [
        {"type": kind, "id": ident, "latest": latest} | ({"name": names[kind, ident]} if (kind, ident) in names else {})
        for kind, ident, latest in rows
    ]


def export(actor: Actor, filters: dict, fmt: str) -> tuple[Iterator[bytes | str], str, str]:
    """Record the export, then stream it: returns (chunks, media type, file name)."""
    require(actor, "audit.read")
    if fmt not in FORMATS:
        raise ValidationFailed(_("unknown format"), {"format": _("one of %(values)s", values=", ".join(FORMATS))})
    # Read the key before recording the export: a missing key refuses the export instead.
    signer = anchor.signer() if fmt == "jsonl" else None
    query = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in filters.items()}
    audit.record_alone(actor, "audit.export", "audit_export", None, {"query": query, "format": fmt})
    # The export's rows come from the replica when there is one: its head, not the primary's, bounds
    # them (a replica a few seconds behind may not hold the audit.export entry just recorded).
    head = reader().execute(select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1)).one()
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    name = f"audit-{stamp}.{fmt}"
    chunks: Iterator[bytes | str]
    if signer is not None:
        chunks = audit_export.export_lines(
            _entries(filters, head.seq),
            signer=signer,
            origin=current_app.config["AUDIT_ORIGIN"],
            query=query,
            exported_by=actor.username,
            exported_at=stamp,
            head=(head.seq, head.entry_hash),
            subjects=_latest(filters, head.seq),
        )
    elif fmt == "csv":
        chunks = _csv(_entries(filters, head.seq))
    else:
        total = (
            reader().scalar(
                select(func.count()).select_from(history.query(filters).where(AuditEntry.seq <= head.seq).subquery())
            )
            or 0
        )
        chunks = iter([_pdf(filters, query, actor, stamp, head, total)])
    return chunks, FORMATS[fmt], name


def encoded(chunks: Iterator[bytes | str]) -> Iterator[bytes]:
    """The export's chunks as bytes, for a response or a file."""
    for chunk in chunks:
        yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk


#: The columns of the CSV export, in order.
CSV_COLUMNS = (*audit_chain.FIELDS, "entry_hash")
#: What ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` writes, without a new encoder per cell.
_json_cell = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _csv(rows: Iterator[dict]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        # cell() leaves anything but text alone: numbers and None skip the call.
        writer.writerow(
            [
                cell(v) if isinstance(v, str) else _json_cell(v) if isinstance(v, (dict, list)) else v
                for v in map(row.__getitem__, CSV_COLUMNS)
            ]
        )
        if out.tell() > 64_000:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _pdf(filters: dict, query: dict, actor: Actor, stamp: str, head, total: int) -> bytes:
    from registry import audit_report

    rows = _entries(filters, head.seq, limit=PDF_LIMIT)
    return audit_report.render_history(
        rows,
        query=query,
        total=total,
        limit=PDF_LIMIT,
        exported_by=actor.username,
        exported_at=stamp,
        head=(head.seq, head.entry_hash),
    )
