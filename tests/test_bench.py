"""The benchmark suite runs end to end on a tiny registry (its numbers are not checked: timings
belong in bench/results.md, never in a pass/fail test)."""

import re
import subprocess
import sys

import pytest

from bench.target import ROOT


@pytest.mark.slow
def test_the_benchmark_suite_runs_on_a_tiny_registry(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--backend", "sqlite", "--small", "40", "--large", "80",
         "--seconds", "0.3", "--out", str(out), "--work", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    pairs = re.findall(r"^\| (.+?) \| [a-z/]+ \| [\d,.]+ \| [\d,.]+ \| ([\d.]+) \|", text, re.M)
    names = [name for name, _ in pairs]
    for expected in (
        "lifecycle event + audit entry, 1 writer(s)",
        "lifecycle event + audit entry, 4 writer(s)",
        "animal page vs minimal route reading one row",
        "API event POST vs minimal insert route",
        "audit export csv vs driver rows to CSV",
        "registry audit verify vs read + SHA-256 of each row",
        "permit PDF vs bare ReportLab page, same text, no QR",
        "audit export jsonl, large registry",
    ):
        assert expected in names, f"{expected!r} missing from:\n{text}"
    assert all(float(ratio) > 0 for _, ratio in pairs), text
    growth = re.findall(r"^\| ([^|]+) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| (\d+) / (\d+) \|", text, re.M)
    assert {"animal page", "deadlines", "audit search by animal", "dashboard"} <= {g[0] for g in growth}, text
    assert all(int(small) > 0 for _, small, _ in growth)
    # What the benchmark itself recorded (exports, tokens) is signed with the registry's own key.
    from bench.target import Target

    target = Target.sqlite(tmp_path / "work" / "sqlite")
    target.resets = max(int(key.stem.rsplit("-", 1)[1]) for key in target.work.glob("audit-signing-key-*.pem"))
    assert "audit chain intact" in target.cli("audit", "verify")
