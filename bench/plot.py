"""throughput.png: throughput, latency and memory over the whole run, with each phase shaded and named."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.report import broken_at_gaps, per_second, percentile


def _series(times: list[float], origin: float, window: int = 5) -> tuple[list[int], list[float]]:
    """Completions per second, averaged over `window` seconds, from the first completion to the last (seconds
    with none count as zero, so a stall shows)."""
    counts = per_second(times, origin)
    if not counts:
        return [], []
    seconds = list(range(min(counts), max(counts) + 1))
    rates = []
    for second in seconds:
        covered = [counts.get(s, 0) for s in range(second - window + 1, second + 1) if s >= min(counts)]
        rates.append(sum(covered) / len(covered))
    return seconds, rates


def draw(
    path: Path, timeline: dict[str, Any], phases: list[dict[str, Any]], memory: dict[str, list], origin: float
) -> None:
    """`timeline`: "throughput" {label: [wall times of completions]}, "latency" {label: [(wall time, seconds)]};
    `memory`: {process: [(wall time, MB)]}; `origin`: the wall time the run started."""
    figure, (rate_axis, latency_axis, memory_axis) = plt.subplots(3, 1, figsize=(14, 11), sharex=True)
    for label, times in timeline["throughput"].items():
        seconds, counts = _series(times, origin)
        if seconds:
            rate_axis.plot(seconds, counts, label=label, linewidth=1)
    rate_axis.set_ylabel("completed per second (5 s average)")
    rate_axis.set_yscale("symlog", linthresh=1)
    rate_axis.legend(loc="upper right", fontsize=8)
    figure.suptitle("Throughput, latency and memory over the benchmark run (phases shaded)")

    for label, points in timeline["latency"].items():
        buckets: dict[int, list[float]] = {}
        for moment, seconds_taken in points:
            buckets.setdefault(int(moment - origin), []).append(seconds_taken * 1000)
        xs = sorted(buckets)
        if not xs:
            continue
        if label.startswith("end to end"):
            latency_axis.scatter(
                [moment - origin for moment, _ in points], [v * 1000 for _, v in points], s=4, label=label, alpha=0.5
            )
        else:
            p99 = [percentile(buckets[x], 99) for x in xs]
            p50 = [percentile(buckets[x], 50) for x in xs]
            latency_axis.plot(xs, p99, linewidth=1, label=f"{label} p99")
            latency_axis.plot(xs, p50, linewidth=1, linestyle=":", label=f"{label} p50")
    latency_axis.set_yscale("log")
    latency_axis.set_ylabel("latency (ms)")
    latency_axis.legend(loc="upper right", fontsize=8)

    for name, points in memory.items():
        xs, ys = broken_at_gaps([(t - origin, mb) for t, mb in points if t >= origin])
        if xs:
            memory_axis.plot(xs, ys, label=name, linewidth=1)
    memory_axis.set_ylabel("resident memory (MB)")
    memory_axis.set_xlabel("seconds since the start of the run")
    memory_axis.legend(loc="upper left", fontsize=8, ncol=3)

    for index, phase in enumerate(phases):
        for axis in (rate_axis, latency_axis, memory_axis):
            axis.axvspan(phase["start"] - origin, phase["end"] - origin, color=f"C{index % 10}", alpha=0.07)
        rate_axis.text(
            phase["start"] - origin, 1.02, phase["name"], transform=rate_axis.get_xaxis_transform(), fontsize=6,
            rotation=35,
        )  # fmt: skip
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=110)
    plt.close(figure)
