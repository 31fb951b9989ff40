"""The tamper script (scripts/tamper.py) on a copy of the demo database: every case caught, by name."""

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
