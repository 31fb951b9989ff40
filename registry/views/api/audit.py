import csv
import io
import json

from flask import Response, jsonify, stream_with_context
from sqlalchemy import select

from registry import audit_chain
from registry.extensions import db
from registry.models import AuditEntry
from registry.services import audit
from registry.views.api.common import api_blueprint, page, require
from registry.views.api.schemas import AuditEntrySchema, AuditQuery, VerdictSchema, page_of

blp = api_blueprint("api_audit", "The hash-chained audit log")
AuditPage = page_of(AuditEntrySchema)


def _filtered(args):
    query = select(AuditEntry)
    for name in ("object_type", "object_id", "action"):
        if args.get(name):
            query = query.where(getattr(AuditEntry, name) == args[name])
    return query


def _plain(entry: AuditEntry) -> dict:
    row = audit.entry_dict(entry)
    row["occurred_at"] = audit_chain.format_time(row["occurred_at"])
    return row


@blp.get("/audit")
@blp.arguments(AuditQuery, location="query")
@blp.doc(responses={"200": {"description": "OK", "content": {
    "application/json": {"schema": AuditPage},
    "application/jsonl": {"schema": {"type": "string", "description": "format=jsonl: one entry per line"}},
    "text/csv": {"schema": {"type": "string", "description": "format=csv: a header row, then one entry per row"}},
}}})
def list_audit(args):
    """Audit entries, newest first. format=jsonl or csv streams every matching entry in chain order."""
    require("audit.read")
    if args["format"] == "json":
        result = page(_filtered(args), AuditEntry.seq, args)
        result["items"] = [_plain(e) for e in result["items"]]
        return jsonify(AuditPage().dump(result))
    query = _filtered(args).order_by(AuditEntry.seq)

    def rows():
        for entry in db.session.scalars(query.execution_options(yield_per=1000)):
            yield _plain(entry)

    if args["format"] == "jsonl":
        body = (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows())
        return Response(stream_with_context(body), mimetype="application/jsonl")

    def as_csv():
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[*audit_chain.FIELDS, "entry_hash"])
        writer.writeheader()
        for r in rows():
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in r.items()})
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    return Response(stream_with_context(as_csv()), mimetype="text/csv")


@blp.get("/audit/verify")
@blp.response(200, VerdictSchema)
def verify_audit():
    """Recompute the whole hash chain now."""
    require("audit.verify")
    verdict = audit.verify_database()
    return {"ok": verdict.ok, "checked": verdict.checked, "bad_seq": verdict.bad_seq, "problem": verdict.problem,
            "message": str(verdict)}
