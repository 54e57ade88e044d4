"""Figures, their baselines and targets: the table printed at the end and `results.json`.

Pure computation, no I/O beyond writing the files: tests/test_bench.py checks it.
"""

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Count and p50/p95/p99/max in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


def http_stats(result: dict[str, Any], warmup: float = 2.0) -> dict[str, Any]:
    """Throughput of 2xx answers after the warm-up, and the latency of every answer started after it."""
    duration = result["duration"]
    kept = [sample for sample in result["samples"] if sample[0] >= warmup]
    ok = [sample for sample in kept if 200 <= sample[2] < 300]
    window = max(duration - warmup, 1e-9)
    return {
        "requests_per_s": round(len(ok) / window, 2),
        "errors": len(kept) - len(ok),
        "statuses": sorted({sample[2] for sample in kept}),
        "latency": latency_summary([sample[1] for sample in ok]),
    }


def steady_rate(times: Iterable[float], start: float, end: float, warmup: float = 0.0) -> float:
    """Events per second among `times` within [start + warmup, end]."""
    begin = start + warmup
    if end <= begin:
        return 0.0
    return sum(1 for moment in times if begin <= moment <= end) / (end - begin)


def per_second(times: Iterable[float], start: float) -> dict[int, int]:
    """How many of `times` fall in each whole second after `start`."""
    counts: dict[int, int] = {}
    for moment in times:
        if moment >= start:
            second = int(moment - start)
            counts[second] = counts.get(second, 0) + 1
    return counts


@dataclass
class Figure:
    """One line of the table. `direction` says which way is better: "higher" (a throughput) or "lower" (a
    latency). A target is either a ratio to the baseline (`target_ratio`) or an absolute bound (`target_value`,
    in the figure's unit)."""

    key: str
    label: str
    unit: str
    ours: float | None
    baseline: float | None = None
    direction: str = "higher"
    target_ratio: float | None = None
    target_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def target(self) -> str:
        sign = "≥" if self.direction == "higher" else "<"
        if self.target_ratio is not None:
            return f"{'≥' if self.direction == 'higher' else '≤'} {self.target_ratio:g}× baseline"
        if self.target_value is not None:
            return f"{sign} {self.target_value:g} {self.unit}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.ours is None:
            return None if self.target_ratio is None and self.target_value is None else False
        if self.target_ratio is not None:
            ratio = self.ratio
            if ratio is None:
                return None
            return ratio >= self.target_ratio if self.direction == "higher" else ratio <= self.target_ratio
        if self.target_value is not None:
            if self.direction == "higher":
                return self.ours >= self.target_value
            return self.ours < self.target_value
        return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": _round(self.ratio, 3), "target": self.target, "met": self.met}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _cell(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{text} {unit}".strip()


def table_rows(figures: Sequence[Figure]) -> list[list[str]]:
    rows = [["figure", "ours", "baseline", "ratio", "target", "met?"]]
    for figure in figures:
        met = {True: "yes", False: "NO", None: ""}[figure.met]
        rows.append(
            [
                figure.label,
                _cell(figure.ours, figure.unit),
                _cell(figure.baseline, figure.unit),
                "" if figure.ratio is None else f"{figure.ratio:.2f}×",
                figure.target,
                met,
            ]
        )
    return rows


def plain_table(figures: Sequence[Figure]) -> str:
    """The table as aligned text (and valid Markdown)."""
    rows = table_rows(figures)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), separator, *(line(row) for row in rows[1:])])


def cpu_by_work(
    cpu_ms_by_process: dict[str, float], work_pct_by_service: dict[str, list[list[Any]]]
) -> dict[str, dict[str, float]]:
    """Each profiled service's CPU per request (ms, the kernel's count) divided among the kinds of work in the shares
    its profile gave them (`profiles.summarize`'s `by_work_pct`)."""
    return {
        service: {kind: round(cpu_ms_by_process[service] * pct / 100, 2) for kind, pct in shares}
        for service, shares in work_pct_by_service.items()
        if service in cpu_ms_by_process and shares
    }


def work_table(by_work: dict[str, dict[str, float]], cpu_ms_by_process: dict[str, float]) -> str:
    """`cpu_by_work` as Markdown: a row per kind of work, a column per service and one for all of them, then the
    processes that were not profiled (PostgreSQL, RabbitMQ...) with their CPU per request."""
    services = list(by_work)
    kinds = list(dict.fromkeys(kind for shares in by_work.values() for kind in shares))
    rows = [["CPU ms per request, by kind of work", *services, "all"], ["---"] * (len(services) + 2)]
    for kind in kinds:
        values = [by_work[service].get(kind, 0.0) for service in services]
        rows.append([kind, *(f"{value:.2f}" for value in values), f"{sum(values):.2f}"])
    totals = [sum(by_work[service].values()) for service in services]
    rows.append(["the service's CPU per request", *(f"{total:.2f}" for total in totals), f"{sum(totals):.2f}"])
    others = [f"{name} {ms:g}" for name, ms in cpu_ms_by_process.items() if name not in by_work]
    note = f"Not profiled, CPU ms per request of their own: {', '.join(others)}." if others else ""
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + ("\n\n" + note if note else "")


def write_results(path: Path, figures: Sequence[Figure], details: dict[str, Any]) -> None:
    document = {"figures": [figure.as_dict() for figure in figures], **details}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def broken_at_gaps(points: list[tuple[float, float]], gap: float = 5.0) -> tuple[list[float], list[float]]:
    """The samples as a line that breaks where none were taken for `gap` seconds (the process was stopped, as
    review and documents are before the backlog drains), instead of a slope drawn across the pause."""
    xs: list[float] = []
    ys: list[float] = []
    for moment, value in points:
        if xs and moment - xs[-1] > gap:
            xs.append(xs[-1] + gap / 2)
            ys.append(float("nan"))
        xs.append(moment)
        ys.append(value)
    return xs, ys
