"""The tamper script (scripts/tamper.py) on a copy of the demo database: every case caught, by name."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS, PG_URL

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "tamper.py"


@pytest.mark.slow
@pytest.mark.parametrize("kind", BACKENDS)
def test_every_tampering_is_caught(kind):
    args = [sys.executable, str(SCRIPT)]
    if kind == "postgresql":
        url = make_url(PG_URL)
        args += ["--database-url", url.set(database=f"{url.database}_tamper").render_as_string(hide_password=False)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    summary = [line for line in report.splitlines() if line.endswith(" cases caught")]
    caught, _of, total = summary[-1].split()[:3]
    assert caught == total and int(total) >= 10, report
    assert " NO " not in report, report


def test_the_audit_page_lists_every_case(monkeypatch):
    spec = importlib.util.spec_from_file_location("tamper", SCRIPT)
    assert spec is not None and spec.loader is not None
    tamper = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tamper", tamper)  # its dataclasses look their module up
    spec.loader.exec_module(tamper)
    page = (SCRIPT.parent.parent / "docs" / "audit.md").read_text(encoding="utf-8")
    assert tamper.cases_table() in page, "docs/audit.md is stale: paste `scripts/tamper.py --cases` into it"
