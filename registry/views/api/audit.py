from flask import Response, abort, jsonify, stream_with_context

from registry import audit_chain, signing
from registry.i18n import _
from registry.models import AuditEntry
from registry.services import audit, exports, history
from registry.views.api import PROBLEM
from registry.views.api.common import api_blueprint, page, require
from registry.views.api.schemas import AuditEntrySchema, AuditQuery, ProblemSchema, VerdictSchema, page_of
from registry.views.audit import checkpoint_download
from registry.views.helpers import require_actor

blp = api_blueprint("api_audit", "The hash-chained audit log")
AuditPage = page_of(AuditEntrySchema)


def _plain(entry: AuditEntry) -> dict:
    row = audit.entry_dict(entry)
    row["occurred_at"] = audit_chain.format_time(row["occurred_at"])
    return row


@blp.get("/audit")
@blp.arguments(AuditQuery, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "OK",
            "content": {
                "application/json": {"schema": AuditPage},
                "application/jsonl": {
                    "schema": {"type": "string", "description": "format=jsonl: header, signed entries, signed manifest"}
                },
                "text/csv": {
                    "schema": {"type": "string", "description": "format=csv: a header row, then one entry per row"}
                },
                "application/pdf": {
                    "schema": {"type": "string", "format": "binary", "description": "format=pdf: a report"}
                },
            },
        }
    }
)
def list_audit(args):
    """Search the event history, newest first; other formats export every match in chain order."""
    require("audit.read")
    fmt = args.pop("format")
    paging = {"cursor": args.pop("cursor"), "limit": args.pop("limit")}
    filters = {k: v for k, v in args.items() if v is not None}
    if fmt == "json":
        result = page(history.query(filters), AuditEntry.seq, paging)
        result["items"] = [_plain(e) for e in result["items"]]
        return jsonify(AuditPage().dump(result))
    chunks, mimetype, name = exports.export(require_actor(), filters, fmt)
    return Response(
        stream_with_context(exports.encoded(chunks)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blp.get("/audit/checkpoints")
@blp.doc(
    responses={
        "200": {
            "description": "OK",
            "content": {
                "application/jsonl": {
                    "schema": {
                        "type": "string",
                        "description": "one signed checkpoint per line: origin, seq, entry_hash, signed_at, "
                        "key_fingerprint, signature",
                    }
                }
            },
        }
    }
)
def list_checkpoints():
    """Every signed checkpoint, oldest first: keep the file and check the log with `verify --against`."""
    require("audit.verify")
    return checkpoint_download()


@blp.get("/audit/verify")
@blp.response(200, VerdictSchema)
@blp.alt_response(
    503,
    schema=ProblemSchema,
    content_type=PROBLEM,
    description="the registry's signing key is missing: nothing was verified",
)
def verify_audit():
    """Recompute the whole hash chain now, and check the checkpoints' signatures."""
    require("audit.verify")
    try:
        verdict = audit.verify_database()
    except signing.KeyMissing:
        # A verification that cannot check signatures is not one: say so, do not answer "intact".
        abort(
            503,
            description=_(
                "Nothing was verified: the registry's signing key is missing, so the checkpoints' signatures "
                "cannot be checked. Create it on the server with registry audit keygen."
            ),
        )
    return {
        "ok": verdict.ok,
        "checked": verdict.checked,
        "bad_seq": verdict.bad_seq,
        "problem": verdict.problem,
        "message": str(verdict),
    }
