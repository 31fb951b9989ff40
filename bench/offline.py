"""Exports, verification and the permit PDF, each against the bare work it cannot beat.

- CSV / JSON Lines export of the whole log vs the database's own dump of the same rows
  (PostgreSQL ``COPY (SELECT ...) TO STDOUT``; SQLite has no COPY: its driver's cursor written as
  CSV), both as separate processes whose peak memory is read from the kernel.
- ``registry audit verify`` vs the floor of any verifier: read the same rows and hash each one
  with SHA-256 (no canonical form, no signature).
- A permit PDF vs a bare ReportLab page with the same text and no QR code.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.measure import Sample, timed
from bench.target import REGISTRY, ROOT, Target

_COLUMNS = (
    "seq, occurred_at, actor_id, actor_name, actor_role, action, object_type, object_id, before, after, "
    "request_id, client_addr, subjects, prev_hash, entry_hash, signature"
)


#: Runs the command and prints its peak memory. Linux keeps a process's peak RSS across fork and exec,
#: so a command started straight from this (large) benchmark process would report this one's: started
#: from a small interpreter, it reports its own.
_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)"
)


def _process(args: list[str], env: dict) -> tuple[float, float]:
    """Run a command; its wall seconds and peak resident memory (MB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... failed: {done.stderr[-1500:]}")
    return elapsed, int(done.stdout.split()[-1]) / 1024


def entries(target: Target) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(target.url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM audit_entry")).scalar_one()
    engine.dispose()
    return count


_DUMP = """
import csv, sys
url, columns = sys.argv[1], sys.argv[2]
if url.startswith("sqlite"):
    import sqlite3
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    writer = csv.writer(sys.stdout)
    cur = conn.execute(f"SELECT {columns} FROM audit_entry ORDER BY seq")
    while rows := cur.fetchmany(5000):
        writer.writerows(rows)
else:
    import psycopg
    with psycopg.connect(url) as conn, conn.cursor().copy(
        f"COPY (SELECT {columns} FROM audit_entry ORDER BY seq) TO STDOUT WITH (FORMAT csv)"
    ) as copy:
        for block in copy:
            sys.stdout.buffer.write(block)
"""

_HASH_ROWS = """
import hashlib, sys
url, columns = sys.argv[1], sys.argv[2]
if url.startswith("sqlite"):
    import sqlite3
    cur = sqlite3.connect(url.removeprefix("sqlite:///")).execute(f"SELECT {columns} FROM audit_entry ORDER BY seq")
else:
    import psycopg
    cur = psycopg.connect(url).cursor(name="rows")
    cur.itersize = 5000
    cur.execute(f"SELECT {columns} FROM audit_entry ORDER BY seq")
n = 0
for row in cur:
    hashlib.sha256(repr(row).encode()).digest()
    n += 1
print(n)
"""


def _db_arg(target: Target) -> str:
    return target.url if target.backend == "sqlite" else target.libpq_url


def export(target: Target, fmt: str, count: int) -> tuple[Sample, Sample]:
    out = target.work / f"export.{fmt}"
    ours_s, ours_mb = _process([REGISTRY, "audit", "export", "--format", fmt, "--out", str(out)], target.env())
    limit_s, limit_mb = _process([sys.executable, "-c", _DUMP, _db_arg(target), _COLUMNS], target.env())
    out.unlink(missing_ok=True)
    return Sample(count, ours_s, peak_mb=ours_mb), Sample(count, limit_s, peak_mb=limit_mb)


def verify(target: Target, count: int) -> tuple[Sample, Sample]:
    ours_s, ours_mb = _process([REGISTRY, "audit", "verify"], target.env())
    limit_s, limit_mb = _process([sys.executable, "-c", _HASH_ROWS, _db_arg(target), _COLUMNS], target.env())
    return Sample(count, ours_s, peak_mb=ours_mb), Sample(count, limit_s, peak_mb=limit_mb)


def verify_offline(target: Target, count: int) -> tuple[Sample, Sample]:
    """The offline verifier over a JSON Lines export vs SHA-256 of each of the file's lines."""
    path = target.work / "offline.jsonl"
    target.cli("audit", "export", "--format", "jsonl", "--out", str(path))
    ours_s, ours_mb = _process([REGISTRY, "audit", "verify", "--file", str(path)], target.env())
    hashing = "import hashlib,sys\nfor line in open(sys.argv[1], 'rb'): hashlib.sha256(line).digest()"
    limit_s, limit_mb = _process([sys.executable, "-c", hashing, str(path)], target.env())
    path.unlink(missing_ok=True)
    return Sample(count, ours_s, peak_mb=ours_mb), Sample(count, limit_s, peak_mb=limit_mb)


def permit_pdf(target: Target, seconds: float) -> tuple[Sample, Sample]:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    from sqlalchemy import select

    from registry import create_app, pdf
    from registry.extensions import db
    from registry.machines.permit import PermitState
    from registry.models import Permit
    from registry.services import documents

    app = create_app(target.config(), check_start=False)
    with app.app_context(), app.test_request_context():
        permit = db.session.scalars(
            select(Permit).where(Permit.state == PermitState.ISSUED).order_by(Permit.id).limit(1)
        ).one()
        # As the registry renders it: the QR code's signed offline payload included.
        ours = timed(lambda: documents.permit_pdf(permit), seconds)
        text = _words_of(documents.permit_pdf(permit))

        def bare() -> bytes:
            import io

            buffer = io.BytesIO()
            page = canvas.Canvas(buffer, pagesize=A4)
            page.setFont(pdf.FONT, 8)
            y = 800.0
            for line in text:
                page.drawString(40, y, line)
                y -= 10
                if y < 40:
                    page.showPage()
                    page.setFont(pdf.FONT, 8)
                    y = 800.0
            page.save()
            return buffer.getvalue()

        limit = timed(bare, seconds)
    return ours, limit


def _words_of(document: bytes) -> list[str]:
    """The permit's text (poppler's pdftotext), drawn by the bare page in the permit's own font."""
    try:
        done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=document, capture_output=True, check=True)
    except OSError:
        raise RuntimeError("pdftotext is missing: apt-get install poppler-utils") from None
    return [ln for ln in done.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
