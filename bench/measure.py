"""Samples, pairs and the results table: what every benchmark reports."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Operations done in *seconds*, with each one's latency (seconds) when known."""

    ops: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    peak_mb: float | None = None
    #: Operations refused because the database was busy (SQLite's write lock not had in time): not counted.
    refused: int = 0

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(operation: Callable[[], object], seconds: float, at_least: int = 3) -> Sample:
    """Run *operation* again and again for *seconds* (and at least *at_least* times)."""
    latencies: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        operation()
        latencies.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= seconds and len(latencies) >= at_least:
            break
    return Sample(len(latencies), time.perf_counter() - start, latencies)


@dataclass
class Pair:
    """Ours against the limit of the same work, measured side by side in one run."""

    section: str
    name: str
    unit: str
    ours: Sample
    limit: Sample
    target: float = 0.5
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours.rate / self.limit.rate if self.limit.rate else 0.0

    @property
    def met(self) -> bool:
        return self.ratio >= self.target


@dataclass
class Growth:
    """One page at the small and at the large data set: p50 and statements per request."""

    name: str
    small: Sample
    large: Sample
    small_statements: int
    large_statements: int
    target: float = 1.5

    @property
    def factor(self) -> float:
        a, b = self.small.percentile(50), self.large.percentile(50)
        return (b / a) if a and b else 0.0

    @property
    def met(self) -> bool:
        # The audit pages look up the names of the records their entries concern once per kind shown
        # (facility, animal, permit...): the count moves with the kinds on the page, not with its rows.
        allowed = self.small_statements + (KINDS if self.name.startswith("audit") else 0)
        return self.factor <= self.target and self.large_statements <= allowed


#: How many more statements a page may send at the large size: one name look-up per kind of record.
KINDS = 3


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def pair_rows(pairs: list[Pair]) -> list[str]:
    rows = [
        "| benchmark | unit | ours | limit | ratio | target | ours p50 / p99 ms | limit p50 / p99 ms | memory MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in pairs:
        mem = "-"
        if p.ours.peak_mb is not None:
            mem = f"{p.ours.peak_mb:.0f} / {p.limit.peak_mb:.0f}" if p.limit.peak_mb else f"{p.ours.peak_mb:.0f}"
        rows.append(
            f"| {p.name} | {p.unit} | {p.ours.rate:,.1f} | {p.limit.rate:,.1f} | {p.ratio:.2f} "
            f"| {'✅' if p.met else '❌'} ≥ {p.target} | {ms(p.ours.percentile(50))} / {ms(p.ours.percentile(99))} "
            f"| {ms(p.limit.percentile(50))} / {ms(p.limit.percentile(99))} | {mem} |"
        )
    notes = [f"- {p.name}: {p.note}" for p in pairs if p.note]
    return rows + ([""] + notes if notes else [])


def growth_rows(rows_in: list[Growth]) -> list[str]:
    rows = [
        "| page | small p50 ms | large p50 ms | large / small | statements small / large | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for g in rows_in:
        rows.append(
            f"| {g.name} | {ms(g.small.percentile(50))} | {ms(g.large.percentile(50))} | {g.factor:.2f} "
            f"| {g.small_statements} / {g.large_statements} | {'✅' if g.met else '❌'} ≤ {g.target}x, no N+1 |"
        )
    return rows


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
