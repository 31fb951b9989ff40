"""scripts/two-servers: two gunicorns behind nginx, one database, one Redis; a login, a rate limit
and a permit each shared by both servers, shown over HTTP (docs/deploy.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, make_database
from tests.helpers import redis_server

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_url():
    """A Redis of the test's own on a free port, stopped afterwards (nothing shared is flushed)."""
    with redis_server() as url:
        yield url


@pytest.mark.parametrize("kind", BACKENDS)
def test_two_servers_share_sessions_limits_and_permits(kind, redis_url, tmp_path):
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.fail("nginx is not installed, so two servers cannot be put behind it: apt-get install nginx")
    url, cleanup = make_database(kind, tmp_path) if kind == "postgresql" else (None, lambda: None)
    try:
        argv = [sys.executable, "scripts/two-servers", "--redis-url", redis_url]
        if url:
            argv += ["--database-url", url.replace("postgresql+psycopg://", "postgresql://")]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        cleanup()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for shown in (
        "server B (:",  # a login on A holds on B
        "server A refuses the old cookie",  # the logout on B ended the session row both read
        "the next one is refused on B too (429)",  # the limit was counted across both
        "B prints the issued permit (PDF)",
        "all checks passed; everything started was stopped",
    ):
        assert shown in output
    assert ("production settings" if kind == "postgresql" else "development settings") in output
