"""Tamper with copies of a demo database in each way an operator with database rights could, and
show that every case is caught, naming what changed.

    .venv/bin/python scripts/tamper.py                                   # SQLite, in a temporary directory
    .venv/bin/python scripts/tamper.py --database-url postgresql://postgres@127.0.0.1/tamper

The demo is built once through the application (so its audit log, signatures and published
checkpoints are real), with a witness file standing for the checkpoints an auditor kept. Each case
then works on its own copy (a file copy on SQLite; ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL,
so the named database and ``<name>_case`` are dropped and recreated), changes it as the database
superuser would, with the audit log's triggers disabled, and runs the checks an auditor runs:
``registry audit verify --full --against WITNESS`` (chain, signatures, checkpoints, reconciliation
with the tables) and, for exports, ``registry audit verify --file``. A case passes when the check
fails and its output names the changed thing. Exit status 0 when every case was caught.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import database_url  # noqa: E402  (the script runs from the checkout, not an install)
from registry import audit_chain  # noqa: E402

REGISTRY = str(Path(sys.executable).with_name("registry"))
AUDIT_TABLES = ("audit_entry", "audit_checkpoint", "audit_head")


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    #: Changes the copy; returns the words the check's output must contain.
    tamper: Callable[[Connection, Path], list[str]]
    #: Which check catches it, for docs/audit.md.
    caught_by: str
    #: The commands run after the tampering, the last one judged (default: the full verification
    #: against the witness).
    checks: tuple[tuple[str, ...], ...] = (("audit", "verify", "--full", "--against", "{work}/witness.jsonl"),)
    #: The exit status that means "caught".
    caught_with: int = 1


def _one(conn: Connection, sql: str, **params):
    return conn.execute(text(sql), params).one()


def _bypass_triggers(conn: Connection) -> None:
    """What a superuser does first: the audit tables' append-only triggers stop nothing then."""
    if conn.dialect.name == "postgresql":
        for table in AUDIT_TABLES:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        return
    names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
    for name in names:
        conn.execute(text(f'DROP TRIGGER "{name}"'))


def _entries(conn: Connection) -> list[dict]:
    rows = conn.execute(text("SELECT * FROM audit_entry ORDER BY seq")).mappings().all()
    out = []
    for row in rows:
        entry = dict(row)
        for key in ("before", "after", "subjects"):
            if isinstance(entry.get(key), str):
                entry[key] = json.loads(entry[key])
        out.append(entry)
    return out


def _write_entries(conn: Connection, entries: list[dict]) -> None:
    conn.execute(text("DELETE FROM audit_entry"))
    columns = list(entries[0])
    insert = text(f"INSERT INTO audit_entry ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
    for entry in entries:
        row = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in entry.items()}
        conn.execute(insert, row)


def _rechain(entries: list[dict]) -> list[dict]:
    """Renumber and rehash: a chain that is consistent with itself (the signatures cannot follow)."""
    prev, out = audit_chain.GENESIS_HASH, []
    for seq, entry in enumerate(entries, start=1):
        entry = dict(entry, seq=seq, prev_hash=prev)
        fields = dict(entry, occurred_at=_as_time(entry["occurred_at"]))
        entry["entry_hash"] = prev = audit_chain.compute_hash(fields)
        out.append(entry)
    return out


def _as_time(value):
    from datetime import datetime

    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _move_head(conn: Connection, entries: list[dict], *, forget_checkpoints: bool) -> None:
    last = entries[-1] if entries else {"seq": 0, "entry_hash": audit_chain.GENESIS_HASH}
    conn.execute(
        text("UPDATE audit_head SET seq = :seq, entry_hash = :hash"), {"seq": last["seq"], "hash": last["entry_hash"]}
    )
    if forget_checkpoints:
        conn.execute(text("DELETE FROM audit_checkpoint"))
        conn.execute(text("UPDATE audit_head SET checkpoints = 0, checkpoint_seq = 0"))


# --- the cases ---------------------------------------------------------------------------------


def truncate_log(conn: Connection, _work: Path) -> list[str]:
    _bypass_triggers(conn)
    conn.execute(text("DELETE FROM audit_entry"))
    _move_head(conn, [], forget_checkpoints=True)
    return ["no audit entry"]


def rechain_all(conn: Connection, _work: Path) -> list[str]:
    """Rewrite one death's day in the log and in the timeline, rehash everything, and remove every
    trace of the checkpoints (their rows, their entries, the head's counters)."""
    _bypass_triggers(conn)
    entries = _entries(conn)
    death = next(e for e in entries if e["action"] == "animal.death")
    # The first witnessed checkpoint that covers the death is the first whose hash no longer matches.
    witnessed = _one(conn, "SELECT min(seq) AS seq FROM audit_checkpoint WHERE seq >= :seq", seq=death["seq"]).seq
    entries = [e for e in entries if e["action"] != "audit.checkpoint"]
    death["after"] = dict(death["after"], occurred_on="2020-01-01")
    conn.execute(
        text("UPDATE animal_event SET occurred_on = '2020-01-01' WHERE event = 'death' AND animal_id = :id"),
        {"id": int(death["object_id"])},
    )
    entries = _rechain(entries)
    _write_entries(conn, entries)
    _move_head(conn, entries, forget_checkpoints=True)
    return [f"checkpoint at entry {witnessed}", "rewritten"]


def cut_tail(conn: Connection, _work: Path) -> list[str]:
    """Remove the entries newer than the last checkpoint and move the head back to it."""
    _bypass_triggers(conn)
    last = _one(conn, "SELECT checkpoint_seq FROM audit_head").checkpoint_seq
    entries = [e for e in _entries(conn) if e["seq"] <= last]
    # The tables keep what the cut entries recorded: the first animal they touched no longer agrees.
    animal = _one(
        conn,
        "SELECT a.registry_no FROM animal a WHERE CAST(a.id AS VARCHAR(64)) = ("
        "SELECT object_id FROM audit_entry WHERE seq > :last AND object_type = 'animal' ORDER BY seq LIMIT 1)",
        last=last,
    )
    conn.execute(text("DELETE FROM audit_entry WHERE seq > :last"), {"last": last})
    _move_head(conn, entries, forget_checkpoints=False)
    return [f"animal {animal.registry_no}"]


def forged_entry(conn: Connection, _work: Path) -> list[str]:
    """Append an entry with a correct hash (a transfer of ownership nobody made) and move the head."""
    _bypass_triggers(conn)
    entries = _entries(conn)
    last = entries[-1]
    forged = dict(last, seq=last["seq"] + 1, prev_hash=last["entry_hash"], action="animal.transfer")
    forged["entry_hash"] = audit_chain.compute_hash(dict(forged, occurred_at=_as_time(forged["occurred_at"])))
    _write_entries(conn, [*entries, forged])
    _move_head(conn, [*entries, forged], forget_checkpoints=False)
    return [f"entry {forged['seq']}"]


def boundary_moved(conn: Connection, work: Path) -> list[str]:
    """Forge an entry, strip the signatures past the last checkpoint, and move the signing boundary
    past the end, so that every unsigned entry looks older than signing."""
    forged_entry(conn, work)
    last = _one(conn, "SELECT checkpoint_seq, seq FROM audit_head")
    conn.execute(text("UPDATE audit_entry SET signature = NULL WHERE seq > :last"), {"last": last.checkpoint_seq})
    conn.execute(text("UPDATE audit_head SET signed_from = :next"), {"next": last.seq + 1})
    return ["the boundary was moved"]


def animal_owner(conn: Connection, _work: Path) -> list[str]:
    row = _one(
        conn,
        "SELECT a.id, a.registry_no, a.owner_party_id FROM animal a WHERE a.owner_party_id IS NOT NULL "
        "AND a.state = 'in_captivity' ORDER BY a.id LIMIT 1",
    )
    other = _one(conn, "SELECT min(id) AS id FROM party WHERE id <> :id", id=row.owner_party_id).id
    conn.execute(text("UPDATE animal SET owner_party_id = :p WHERE id = :id"), {"p": other, "id": row.id})
    return [row.registry_no, "owner_party_id"]


def animal_state(conn: Connection, _work: Path) -> list[str]:
    row = _one(conn, "SELECT id, registry_no FROM animal WHERE state = 'dead' ORDER BY id LIMIT 1")
    conn.execute(text("UPDATE animal SET state = 'in_captivity' WHERE id = :id"), {"id": row.id})
    return [row.registry_no, "state"]


def permit_quantity(conn: Connection, _work: Path) -> list[str]:
    row = _one(
        conn,
        "SELECT l.id, l.permit_id, p.number FROM permit_line l JOIN permit p ON p.id = l.permit_id "
        "WHERE p.number IS NOT NULL ORDER BY l.id LIMIT 1",
    )
    conn.execute(text("UPDATE permit_line SET quantity = quantity + 10 WHERE id = :id"), {"id": row.id})
    return ["quantity"]


def cleared_line(conn: Connection, _work: Path) -> list[str]:
    row = _one(
        conn, "SELECT e.id, l.line_id FROM endorsement e JOIN endorsed_line l ON l.endorsement_id = e.id LIMIT 1"
    )
    conn.execute(
        text("INSERT INTO endorsed_line (endorsement_id, line_id, quantity, outcome) VALUES (:e, :l, 5, 'cleared')"),
        {"e": row.id, "l": row.line_id},
    )
    return ["endorsed_line"]


def death_rewritten(conn: Connection, _work: Path) -> list[str]:
    row = _one(
        conn,
        "SELECT e.id, a.registry_no FROM animal_event e JOIN animal a ON a.id = e.animal_id "
        "WHERE e.event = 'death' ORDER BY e.id LIMIT 1",
    )
    conn.execute(text("UPDATE animal_event SET occurred_on = '2020-01-01' WHERE id = :id"), {"id": row.id})
    return [row.registry_no, "death"]


def chip_rewritten(conn: Connection, _work: Path) -> list[str]:
    """Swap an animal's microchip number for another, as if it had always carried it."""
    row = _one(conn, "SELECT id FROM identifier WHERE kind = 'microchip' ORDER BY id LIMIT 1")
    conn.execute(text("UPDATE identifier SET value = '900000000000999' WHERE id = :id"), {"id": row.id})
    return [f"identifier {row.id}", "900000000000999"]


def _cut_index(conn: Connection, work: Path):
    """Drop the index row that leads an export to an animal's transfer; returns it (seq, subject_id)."""
    row = _one(
        conn,
        "SELECT s.seq, s.subject_id FROM audit_subject s JOIN audit_entry e ON e.seq = s.seq "
        "WHERE s.subject_type = 'animal' AND e.object_type = 'transfer' ORDER BY s.seq LIMIT 1",
    )
    conn.execute(
        text("DELETE FROM audit_subject WHERE subject_type = 'animal' AND subject_id = :id AND seq = :seq"),
        {"id": row.subject_id, "seq": row.seq},
    )
    return row


def index_cut(conn: Connection, work: Path) -> list[str]:
    """Drop the index row that leads an export to an animal's transfer: the registry itself would then
    export a history without it, under a valid signature."""
    row = _cut_index(conn, work)
    registry_no = _one(conn, "SELECT registry_no FROM animal WHERE id = :id", id=int(row.subject_id)).registry_no
    (work / "subject.txt").write_text(registry_no)
    return [f"entry {row.seq} concerning animal {registry_no} (id {row.subject_id}) is missing"]


def index_cut_live(conn: Connection, work: Path) -> list[str]:
    """The same index row dropped: reconciling the index with the entries names it before any export."""
    row = _cut_index(conn, work)
    return [f"audit_subject animal {row.subject_id} -> entry {row.seq}: entry {row.seq} names animal {row.subject_id}"]


def no_key(_conn: Connection, work: Path) -> list[str]:
    return ["nothing was verified"]


def export_cut(_conn: Connection, work: Path) -> list[str]:
    """Drop one entry from the middle of an exported animal history (the manifest stays signed)."""
    lines = (work / "history.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    entries = [i for i, line in enumerate(lines) if json.loads(line).get("type") == "entry"]
    victim = entries[len(entries) // 2]
    seq = json.loads(lines[victim])["seq"]
    (work / "history.jsonl").write_text("".join(lines[:victim] + lines[victim + 1 :]), encoding="utf-8")
    return [f"entry {seq}"]


CASES = (
    Case(
        "truncate-log",
        "the whole log and its checkpoints emptied",
        truncate_log,
        "`--against` (the witnessed checkpoints are gone); every domain row has an entry",
    ),
    Case(
        "rechain-all",
        "a death rewritten in log and timeline, the chain rehashed, every trace of the checkpoints removed",
        rechain_all,
        "`--against`: the first witnessed checkpoint after the change no longer matches; entry signatures",
    ),
    Case(
        "cut-tail",
        "the entries newer than the last checkpoint cut, the head moved back",
        cut_tail,
        "reconciliation: the rows those entries changed disagree with the log; rows with no entry",
    ),
    Case(
        "forged-entry",
        "an entry appended with a correct hash, the head moved",
        forged_entry,
        "entry signatures: it carries none the registry's key made",
    ),
    Case(
        "boundary-moved",
        "an entry forged, the signatures past the last checkpoint stripped, the signing boundary moved past them",
        boundary_moved,
        "every checkpoint signed the boundary: the stored ones and the witnessed ones disagree with it",
    ),
    Case("animal-owner", "an animal's owner changed in the table", animal_owner, "reconciliation"),
    Case("animal-state", "a dead animal made alive in the table", animal_state, "reconciliation"),
    Case("permit-quantity", "a permit line's quantity raised", permit_quantity, "reconciliation"),
    Case("cleared-line", "a cleared endorsement line added", cleared_line, "reconciliation"),
    Case("death-rewritten", "a death's day rewritten in the timeline", death_rewritten, "reconciliation"),
    Case("chip-rewritten", "a microchip number rewritten in the table", chip_rewritten, "reconciliation"),
    Case(
        "no-key",
        "verification asked for without the public key",
        no_key,
        "verify refuses (exit 2) instead of skipping the signatures",
        (("audit", "verify"),),
        caught_with=2,
    ),
    Case(
        "export-cut",
        "one entry removed from an animal's exported history",
        export_cut,
        "the offline verifier: the signed manifest and the subject links",
        (("audit", "verify", "--file", "{work}/history.jsonl", "--key", "{work}/public.pem"),),
    ),
    Case(
        "index-cut",
        "the index that finds an animal's entries loses its transfer: its export leaves it out",
        index_cut,
        "the offline verifier: the subject links (the manifest agrees with the file)",
        (
            ("audit", "export", "--animal", "{subject}", "--out", "{work}/index-cut.jsonl"),
            ("audit", "verify", "--file", "{work}/index-cut.jsonl", "--key", "{work}/public.pem"),
        ),
    ),
    Case(
        "index-cut-live",
        "the same index row dropped, before any export",
        index_cut_live,
        "reconciliation: the subject index against the entries' hashed subjects",
    ),
)


# --- databases ---------------------------------------------------------------------------------


class Copies:
    """The pristine demo database and fresh copies of it, on SQLite or PostgreSQL."""

    def __init__(self, url: str | None, work: Path):
        self.work = work
        self.url = database_url(url)
        self.pristine = self.url or f"sqlite:///{work / 'pristine.sqlite'}"

    def _admin(self) -> Engine:
        return create_engine(make_url(self.url).set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _name(self, suffix: str = "") -> str:
        return str(make_url(self.url).database) + suffix

    def reset(self) -> None:
        if self.url is None:
            return
        with self._admin().connect() as conn:
            for name in (self._name("_case"), self._name()):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{self._name()}"'))

    def copy(self) -> str:
        if self.url is None:
            target = self.work / "case.sqlite"
            shutil.copyfile(self.work / "pristine.sqlite", target)
            return f"sqlite:///{target}"
        with self._admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self._name("_case")}" WITH (FORCE)'))
            # Nothing may be connected to the template; end what a finished command left behind.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self._name()},
            )
            conn.execute(text(f'CREATE DATABASE "{self._name("_case")}" TEMPLATE "{self._name()}"'))
        return str(make_url(self.url).set(database=self._name("_case")).render_as_string(hide_password=False))


def _env(work: Path, url: str, key: bool = True) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REGISTRY_INSTANCE_PATH=str(work),
        REGISTRY_AUDIT_KEY=str(work / ("audit-signing-key.pem" if key else "no-such-key.pem")),
        REGISTRY_AUDIT_WITNESSES=str(work / "witness.jsonl"),
        # A checkpoint every 25 entries, so the demo publishes several and leaves a tail after the last.
        REGISTRY_AUDIT_CHECKPOINT_EVERY="25",
    )
    return env


def _registry(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([REGISTRY, *args], env=env, capture_output=True, text=True, cwd=ROOT)


def _build(copies: Copies) -> None:
    env = _env(copies.work, copies.pristine)
    for args in (("db", "upgrade"), ("audit", "keygen"), ("demo",)):
        done = _registry(env, *args)
        if done.returncode:
            sys.exit(f"building the demo failed at `registry {' '.join(args)}`:\n{done.stdout}{done.stderr}")
    from registry import signing

    (copies.work / "public.pem").write_text(signing.Signer(copies.work / "audit-signing-key.pem").public_pem)
    pristine = create_engine(copies.pristine)
    with pristine.connect() as conn:
        # The animal with the longest history: its export crosses transfers, the border, births.
        animal = conn.execute(
            text(
                "SELECT a.registry_no FROM animal a JOIN audit_subject s ON s.subject_type = 'animal' "
                "AND s.subject_id = CAST(a.id AS VARCHAR(64)) GROUP BY a.registry_no "
                "ORDER BY count(*) DESC, a.registry_no LIMIT 1"
            )
        ).scalar_one()
    pristine.dispose()  # a pooled connection to the template would stop CREATE DATABASE ... TEMPLATE
    done = _registry(
        env, "audit", "export", "--filter", f"animal={animal}", "--out", str(copies.work / "history.jsonl")
    )
    if done.returncode:
        sys.exit(f"exporting {animal}'s history failed:\n{done.stdout}{done.stderr}")
    baseline = _registry(env, "audit", "verify", "--full", "--against", str(copies.work / "witness.jsonl"))
    if baseline.returncode:
        sys.exit(f"the untouched demo does not verify:\n{baseline.stdout}{baseline.stderr}")
    # The untouched export is intact and provably complete, offline: what the export cases break.
    offline = (
        "audit",
        "verify",
        "--file",
        str(copies.work / "history.jsonl"),
        "--key",
        str(copies.work / "public.pem"),
    )
    proven = _registry(env, *offline)
    if proven.returncode or "complete history of animal" not in proven.stdout:
        sys.exit(f"{animal}'s exported history is not proven complete:\n{proven.stdout}{proven.stderr}")
    print(f"{animal}'s exported history, checked offline: {proven.stdout.strip().splitlines()[-1]}")


def run(url: str | None) -> int:
    work = Path(tempfile.mkdtemp(prefix="registry-tamper-"))
    copies = Copies(url, work)
    copies.reset()
    _build(copies)
    pristine_history = (work / "history.jsonl").read_text(encoding="utf-8")
    missed = 0
    print(f"{'case':<16} {'caught':<7} what")
    for case in CASES:
        target = copies.copy()
        (work / "subject.txt").unlink(missing_ok=True)
        (work / "history.jsonl").write_text(pristine_history, encoding="utf-8")
        engine = create_engine(target)
        with engine.begin() as conn:
            expected = case.tamper(conn, work)
        engine.dispose()
        subject = (work / "subject.txt").read_text() if (work / "subject.txt").exists() else ""
        for check in case.checks:
            args = [part.format(work=work, subject=subject) for part in check]
            done = _registry(_env(work, target, key=case.name != "no-key"), *args)
        said = done.stdout + done.stderr
        caught = done.returncode == case.caught_with and all(word in said for word in expected)
        missed += not caught
        print(f"{case.name:<16} {'yes' if caught else 'NO':<7} {case.what}")
        for line in said.strip().splitlines()[:6]:
            print(f"{'':<24}| {line}")
        if not caught:
            print(f"{'':<24}expected exit {case.caught_with} naming {expected}; got exit {done.returncode}")
    shutil.rmtree(work, ignore_errors=True)
    if url is not None:
        copies.reset()
    print(f"{len(CASES) - missed} of {len(CASES)} cases caught")
    return 1 if missed else 0


def cases_table() -> str:
    """The cases as the Markdown table docs/audit.md shows (a test keeps the two the same)."""
    rows = ["| Case | What the superuser does | Caught by |", "| --- | --- | --- |"]
    rows += [f"| `{c.name}` | {c.what} | {c.caught_by} |" for c in CASES]
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL URL whose database this script may drop and create")
    parser.add_argument("--cases", action="store_true", help="print the cases as a Markdown table and stop")
    options = parser.parse_args()
    if options.cases:
        print(cases_table())
        sys.exit(0)
    sys.exit(run(options.database_url))
