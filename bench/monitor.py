"""Resource and queue samples taken in a background thread while the benchmark runs.

Per process (each service, the simulator, the baselines, the load generator and RabbitMQ's beam.smp): resident
memory and CPU seconds (user + system, children included), once a second. Per queue of the benchmark's vhost:
messages waiting and RabbitMQ's delivery rate, every two seconds.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.infra import AMQP_HOST, AMQP_PORT, Management


def rabbitmq_pid() -> int | None:
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "beam.smp" and any("rabbit" in part for part in cmdline) and "-s" in cmdline:
            return process.pid
    return None


@dataclass
class Monitor:
    management: Management | None = None
    interval: float = 1.0
    samples: list[dict[str, Any]] = field(default_factory=list)  # t, name, rss_mb, cpu_s
    queue_samples: list[dict[str, Any]] = field(default_factory=list)  # t, queues: [...]
    # Moments the broker was away: the machine's RabbitMQ is shared, and fault-injection tests restart it.
    broker_restarts: list[float] = field(default_factory=list)
    _pids: dict[str, int] = field(default_factory=dict)
    _handles: dict[str, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _postgres_cpu: dict[int, float] = field(default_factory=dict)
    _postgres_total: float = 0.0

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            self._pids[name] = pid
            with contextlib.suppress(psutil.Error):
                self._handles[name] = psutil.Process(pid)

    def forget(self, name: str) -> None:
        with self._lock:
            self._pids.pop(name, None)
            self._handles.pop(name, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            now = time.time()
            with self._lock:
                handles = dict(self._handles)
            for name, process in handles.items():
                with contextlib.suppress(psutil.Error):
                    with process.oneshot():
                        cpu = process.cpu_times()
                        rss = process.memory_info().rss
                    self.samples.append(
                        {
                            "t": now,
                            "name": name,
                            "rss_mb": rss / 2**20,
                            "cpu_s": cpu.user + cpu.system + cpu.children_user + cpu.children_system,
                        }
                    )
            self._sample_postgresql(now)
            self._check_broker(now, pid=tick % 5 == 0)
            if self.management is not None and tick % 2 == 0:
                with contextlib.suppress(Exception):  # the broker's API may be slow for a moment
                    self.queue_samples.append({"t": now, "queues": self.management.queues()})
            tick += 1
            self._stop.wait(max(0.0, self.interval - (time.time() - now)))

    def _sample_postgresql(self, now: float) -> None:
        """PostgreSQL as one process, "postgresql": the CPU its processes used since the last sample, added up. A
        backend seen once counts from then on; one that lives less than a second is missed (the services keep
        pools, so the busy ones live long)."""
        seen: dict[int, float] = {}
        rss = 0.0
        for process in psutil.process_iter(["name"]):
            if process.info["name"] != "postgres":
                continue
            with contextlib.suppress(psutil.Error), process.oneshot():
                cpu = process.cpu_times()
                seen[process.pid] = cpu.user + cpu.system
                rss += process.memory_info().rss
        if not seen:
            return
        self._postgres_total += sum(max(0.0, used - self._postgres_cpu.get(pid, used)) for pid, used in seen.items())
        self._postgres_cpu = seen
        self.samples.append({"t": now, "name": "postgresql", "rss_mb": rss / 2**20, "cpu_s": self._postgres_total})

    def _check_broker(self, now: float, pid: bool) -> None:
        """A closed AMQP port (`rabbitmqctl stop_app`) or a new beam.smp process (a restart) is an outage."""
        try:
            socket.create_connection((AMQP_HOST, AMQP_PORT), timeout=2).close()
        except OSError:
            self.broker_restarts.append(now)
        if not pid:
            return
        current = self._pids.get("rabbitmq")
        found = rabbitmq_pid()
        if current is not None and found != current:
            self.broker_restarts.append(now)
            self.forget("rabbitmq")
            if found is not None:
                self.watch("rabbitmq", found)
        elif current is None and found is not None:
            self.watch("rabbitmq", found)

    def usage(self, start: float, end: float, names: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
        """Per process within [start, end]: peak RSS (MB) and CPU seconds used."""
        found: dict[str, dict[str, float]] = {}
        for sample in self.samples:
            if not (start <= sample["t"] <= end) or not names(sample["name"]):
                continue
            entry = found.setdefault(
                sample["name"], {"peak_rss_mb": 0.0, "cpu_first": sample["cpu_s"], "cpu_last": sample["cpu_s"]}
            )
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], sample["rss_mb"])
            entry["cpu_last"] = sample["cpu_s"]
        return {
            name: {
                "peak_rss_mb": round(entry["peak_rss_mb"], 1),
                "cpu_s": round(entry["cpu_last"] - entry["cpu_first"], 2),
            }
            for name, entry in found.items()
        }

    def rss_series(self, name: str, start: float, end: float) -> list[tuple[float, float]]:
        return [(s["t"], s["rss_mb"]) for s in self.samples if s["name"] == name and start <= s["t"] <= end]

    def queue_rates(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per queue within [start, end]: mean and peak delivery rate (messages/s) and most messages waiting."""
        found: dict[str, dict[str, Any]] = {}
        for sample in self.queue_samples:
            if not (start <= sample["t"] <= end):
                continue
            for queue in sample["queues"]:
                entry = found.setdefault(queue["name"], {"rates": [], "max_messages": 0})
                entry["rates"].append(queue["deliver_rate"])
                entry["max_messages"] = max(entry["max_messages"], queue["messages"])
        return {
            name: {
                "mean_deliver_rate": round(sum(entry["rates"]) / len(entry["rates"]), 2),
                "peak_deliver_rate": round(max(entry["rates"]), 2),
                "max_messages": entry["max_messages"],
            }
            for name, entry in found.items()
            if entry["rates"] and (max(entry["rates"]) > 0 or entry["max_messages"] > 0)
        }
