"""``python -m bench`` (or ``bench/run``): every benchmark pair, side by side, into bench/results.md.

See bench/README.md for what each pair compares and how to read the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import growth, offline, serving, transitions
from bench.measure import Growth, Pair, Sample, growth_rows, pair_rows
from bench.target import ROOT, Target


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _pairs(target: Target, seconds: float) -> list[Pair]:
    pairs: list[Pair] = []
    s = target.backend
    for writers in (1, 4):
        _log(f"{s}: transitions, {writers} writer(s)")
        ours = transitions.run(target, writers, seconds, by_hand=False)
        limit = transitions.run(target, writers, seconds, by_hand=True)
        note = ""
        if ours.refused or limit.refused:
            note = (
                f"refused busy (SQLite's write lock not had within the busy timeout, a 503): ours {ours.refused}, "
                f"limit {limit.refused}"
            )
        name = f"lifecycle event + audit entry, {writers} writer(s)"
        pairs.append(Pair("transitions", name, "events/s", ours, limit, note=note))
    pairs += _http(target, seconds)
    count = offline.entries(target)
    for fmt in ("csv", "jsonl"):
        _log(f"{s}: export {fmt} of {count} entries")
        ours, limit = offline.export(target, fmt, count)
        what = "COPY ... TO STDOUT" if s == "postgresql" else "driver rows to CSV"
        pairs.append(Pair("exports", f"audit export {fmt} vs {what}", "entries/s", ours, limit))
    _log(f"{s}: verify {count} entries")
    ours, limit = offline.verify(target, count)
    pairs.append(Pair("verification", "registry audit verify vs read + SHA-256 of each row", "entries/s", ours, limit))
    ours, limit = offline.verify_offline(target, count)
    pairs.append(Pair("verification", "offline verify of an export vs SHA-256 of each line", "entries/s", ours, limit))
    _log(f"{s}: permit PDF")
    ours, limit = offline.permit_pdf(target, seconds)
    pairs.append(Pair("pdf", "permit PDF vs bare ReportLab page, same text, no QR", "documents/s", ours, limit))
    return pairs


def _http(target: Target, seconds: float) -> list[Pair]:
    """Reads through wrk and writes through the Python client, ours and the minimal app in turn."""
    from bench.http_setup import prepare

    plan = prepare(target)
    pairs: list[Pair] = []
    samples: dict[str, Sample] = {}
    with serving.served(target, "registry_app") as base:
        for name, (path, headers) in plan.reads.items():
            _log(f"{target.backend}: HTTP {name}")
            samples[name] = serving.wrk(base + path, seconds, headers)
        write = serving.post_loop(base, seconds, plan.event_bodies, plan.api_headers, len(plan.writers))
    with serving.served(target, "minimal_app") as base:
        read_limit = serving.wrk(f"{base}/row/{plan.animal_id}", seconds, {})
        write_limit = serving.post_loop(base, seconds, plan.insert_bodies, {}, len(plan.writers))
    for name, sample in samples.items():
        pairs.append(Pair("http", f"{name} vs minimal route reading one row", "requests/s", sample, read_limit))
    pairs.append(Pair("http", "API event POST vs minimal insert route", "requests/s", write, write_limit))
    return pairs


def _growth(small: dict, large: dict) -> list[Growth]:
    return [
        Growth(name, small[name].sample, large[name].sample, small[name].statements, large[name].statements)
        for name in small
    ]


def _machine() -> str:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, commit {commit.strip() or '?'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgresql", default=os.environ.get("REGISTRY_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/"),
        help="server to create the registry_bench database on",
    )  # fmt: skip
    parser.add_argument("--small", type=int, default=2000, help="animals in the small registry")
    parser.add_argument("--large", type=int, default=100000, help="animals in the large registry")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument(
        "--append", action="store_true", help="add this run's sections to --out (e.g. another backend at another size)"
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = datetime.now(UTC)
    header = [
        "# Benchmark results",
        "",
        f"Written by `bench/run` on {started:%Y-%m-%d %H:%M} UTC: {_machine()}.",
        f"Small registry {args.small:,} animals, large {args.large:,}; {args.seconds:g} s per measurement. "
        "Ours and the limit of each pair ran one after the other in this run. Ratio = ours / limit.",
        "",
    ]
    if args.append and args.out.exists():
        lines = [args.out.read_text().rstrip("\n"), "", *header[2:]]
    else:
        lines = header
    for backend in backends:
        if backend == "sqlite":
            target = Target.sqlite(args.work / "sqlite")
        else:
            target = Target.postgresql(args.postgresql, args.work / "postgresql")
        _log(f"{backend}: small registry ({args.small} animals)")
        target.reset()
        small_seconds = target.populate(args.small)
        small_entries = offline.entries(target)
        pairs = _pairs(target, args.seconds)
        _log(f"{backend}: growth, small")
        small_pages = growth.measure(target, args.seconds / 2)
        _log(f"{backend}: large registry ({args.large} animals)")
        target.reset()
        large_seconds = target.populate(args.large)
        large_entries = offline.entries(target)
        # Flat memory: the same exports again, at the large size.
        for fmt in ("csv", "jsonl"):
            ours, limit = offline.export(target, fmt, large_entries)
            pairs.append(Pair("exports", f"audit export {fmt}, large registry", "entries/s", ours, limit))
        ours, limit = offline.verify(target, large_entries)
        pairs.append(Pair("verification", "registry audit verify, large registry", "entries/s", ours, limit))
        _log(f"{backend}: growth, large")
        large_pages = growth.measure(target, args.seconds / 2)
        lines += [
            f"## {backend}",
            "",
            f"Data: small {args.small:,} animals / {small_entries:,} audit entries "
            f"(generated in {small_seconds:.0f} s), "
            f"large {args.large:,} animals / {large_entries:,} entries (generated in {large_seconds:.0f} s).",
            "",
            *pair_rows(pairs),
            "",
            "### Growth (p50, small vs large registry)",
            "",
            *growth_rows(_growth(small_pages, large_pages)),
            "",
        ]
        args.out.write_text("\n".join(lines) + "\n")  # after each backend: a long run keeps what it measured
    _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
