"""`make bench`: the real system and its two baselines, side by side in one run, on this machine.

Phases, in order (each baseline right before the figure judged against it, so both see the same machine):
  1. pdf          the documents service's renderer and signer on one core (documents/s), with a profile;
  2. baseline a   a bare FastAPI endpoint inserting the same row: closed loop (saturation), open loop at half;
  3. intake       `POST /requests` with review, documents and shipping stopped: the same two loads, a profile;
  4. baseline b   four stages on aio-pika + asyncpg: requests/s through all four;
  5. end to end   the whole system: a window of requests in flight (saturation), a profile of every service,
                  then an open loop at half that rate (latency from submission to shipped);
  6. backlog      N requests queued while review and documents are stopped, then both started: time to drain
                  and memory over time.
Writes `results.json`, `throughput.png`, `table.md`, profiles and the services' logs to `--out`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import baseline_api, baseline_pipeline, plot, profiles, stages
from bench.citizens import Citizens, parse_mix
from bench.infra import Infrastructure, Management
from bench.monitor import Monitor, rabbitmq_pid
from bench.pipeline import Submission, Submitter, Tracker, closed_window, open_loop, submit_many, wait_all_shipped
from bench.report import (
    Figure,
    cpu_by_work,
    http_stats,
    latency_summary,
    plain_table,
    steady_rate,
    table_rows,
    work_table,
    write_results,
)
from bench.system import bench_system
from tests.e2e.system import SERVICES, free_port

ROOT = Path(__file__).resolve().parent.parent
# Serials of the people in each phase's requests, far apart so that no two requests share a person.
SERIALS = {"baseline a": 0, "intake": 20_000, "end to end": 40_000, "backlog": 45_000}
FLAT_MEMORY_GROWTH_PCT = 10.0
# Processes that are not the system under test: the benchmark's own.
LOAD_GENERATORS = frozenset({"bench (driver)", "load generator"})
# What the system and baseline b both run on: counted in both.
SHARED_INFRASTRUCTURE = frozenset({"rabbitmq", "postgresql"})


def cpu_per_request(usage: dict[str, Any], requests: int, counted: Any) -> dict[str, Any]:
    """CPU milliseconds per request, in total and by process, of the processes `counted` accepts."""
    by_process = {
        name: round(entry["cpu_s"] * 1000 / requests, 2)
        for name, entry in sorted(usage.items())
        if counted(name) and requests
    }
    return {"total": round(sum(by_process.values()), 2) if by_process else None, "by_process": by_process}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--mix", default="", help="request types and weights, e.g. biodata_wni=2,kartu_keluarga=1")
    parser.add_argument("--courier-share", type=float, default=0.2, help="share of requests sent by courier")
    parser.add_argument("--duration", type=float, default=20, help="seconds of each HTTP load (intake, baseline a)")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP clients (closed loop, backlog)")
    parser.add_argument("--e2e-duration", type=float, default=90, help="seconds of each end-to-end load")
    parser.add_argument("--window", type=int, default=24, help="requests in flight for end-to-end saturation")
    parser.add_argument("--baseline-window", type=int, default=200, help="messages in flight through baseline b")
    parser.add_argument("--backlog", type=int, default=300, help="requests queued for the backlog drain")
    parser.add_argument("--pdf-seconds", type=float, default=10, help="seconds of PDF rendering on one core")
    parser.add_argument("--profile-seconds", type=float, default=15, help="seconds of each profile; 0: none")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/<timestamp>/")
    parser.add_argument(
        "--phases",
        default="pdf,a,intake,b,e2e,backlog",
        help="comma-separated subset of pdf,a,intake,b,e2e,backlog (e2e figures need e2e, ratios their baseline)",
    )
    args = parser.parse_args(argv)
    args.mix_weights = parse_mix(args.mix)
    args.out = args.out or ROOT / "bench" / "results" / datetime.now().strftime("%Y%m%d-%H%M%S")
    args.phase_set = {phase.strip() for phase in args.phases.split(",") if phase.strip()}
    return args


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.console = Console() if sys.stdout.isatty() else Console(width=160)
        self.infra = Infrastructure()
        self.started = time.time()
        self.monitor = Monitor()
        self.phases: list[dict[str, Any]] = []
        self.figures: list[Figure] = []
        self.details: dict[str, Any] = {}
        self.timeline: dict[str, Any] = {"throughput": {}, "latency": {}}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="dukcapil-bench-"))
        self.system: Any = None
        self.dsns: dict[str, str] = {}
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )

    # --- the run ---

    async def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "raw").mkdir(exist_ok=True)
        (self.out / "profiles").mkdir(exist_ok=True)
        self.console.print(f"[bold]Benchmark[/] → {self.out}")
        self.started = time.time()
        self.details["machine"] = machine()
        self.details["options"] = {
            key: str(value) if isinstance(value, Path | set) else value for key, value in vars(self.args).items()
        }
        try:
            with self.progress:
                await self.prepare()
                wanted = self.args.phase_set
                if "pdf" in wanted:
                    await self.pdf_phase()
                if "a" in wanted:
                    await self.baseline_a_phase()
                if wanted & {"intake", "e2e", "backlog"}:
                    await self.start_system()
                if "intake" in wanted:
                    await self.intake_phase()
                if "b" in wanted:
                    await self.baseline_b_phase()
                if "e2e" in wanted:
                    await self.end_to_end_phase()
                if "backlog" in wanted:
                    await self.backlog_phase()
        finally:
            await self.cleanup()
        return self.report()

    async def prepare(self) -> None:
        task = self.progress.add_task("creating the vhost and databases", total=None)
        await asyncio.to_thread(self.infra.create_vhost)
        for purpose in (*SERVICES, "baseline_a", "baseline_b"):
            self.dsns[purpose] = await self.infra.create_database(purpose)
        autovacuum = await self.infra.postgres_setting("autovacuum")
        self.details["machine"]["postgresql_autovacuum"] = autovacuum
        if autovacuum != "on":
            # Seen with a backlog of 100,000: the outbox's pending rows, marked sent one by one, left as many dead
            # index entries, and the relay's query for them went from 0.1 ms to 300 ms.
            self.console.print(
                "[yellow]PostgreSQL's autovacuum is off on this machine:[/] in a long run (a large backlog) the "
                "outbox and request tables fill with dead rows and their queries slow down, as no deployment's "
                "would; turn it on (autovacuum = on, then SELECT pg_reload_conf()) for such a run."
            )
        self.monitor.management = Management(self.infra.vhost)
        if (pid := rabbitmq_pid()) is not None:
            self.monitor.watch("rabbitmq", pid)
        self.monitor.watch("bench (driver)", os.getpid())
        self.monitor.start()
        self.progress.remove_task(task)

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> AsyncIterator[dict[str, Any]]:
        entry: dict[str, Any] = {"name": name, "start": time.time()}
        if not self.console.is_terminal:  # no live progress bar in a log: say where the run is
            self.console.log(f"{name}: started")
        try:
            yield entry
        finally:
            entry["end"] = time.time()
            self.phases.append(entry)
            if not self.console.is_terminal:
                self.console.log(f"{name}: {entry['end'] - entry['start']:.0f} s")

    def usage(self, entry: dict[str, Any]) -> dict[str, Any]:
        return self.monitor.usage(entry["start"], entry["end"])

    # --- phases ---

    async def pdf_phase(self) -> None:
        async with self.phase("pdf") as entry:
            task = self.progress.add_task("pdf: rendering and signing on one core", total=self.args.pdf_seconds)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.pdf",
                "--seconds",
                str(self.args.pdf_seconds),
                "--profile-seconds",
                str(min(self.args.profile_seconds, 10)),
                "--out",
                str(self.out / "profiles"),
                cwd=ROOT,
                env=self.env(),
                stdout=asyncio.subprocess.PIPE,
            )
            self.monitor.watch("pdf", process.pid)
            reader = asyncio.create_task(process.communicate())
            while not reader.done():
                self.progress.update(task, completed=min(time.time() - entry["start"], self.args.pdf_seconds))
                await asyncio.sleep(0.5)
            stdout, _ = reader.result()
            self.monitor.forget("pdf")
            self.progress.update(task, completed=self.args.pdf_seconds)
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        self.details["pdf"] = result
        self.figures.append(
            Figure(
                "pdf_documents_per_s",
                "PDF documents/s on one core (render + sign)",
                "/s",
                result["documents_per_s"],
                target_value=100,
                note=f"{result['documents_per_cpu_s']} per CPU-second; profile: profiles/profile-pdf.txt",
            )
        )

    async def baseline_a_phase(self) -> None:
        await baseline_api.create_schema(self.dsns["baseline_a"])
        port = free_port()
        env = self.env() | {"BASELINE_DSN": self.dsns["baseline_a"], "BASELINE_PORT": str(port)}
        self.spawn("baseline a", [sys.executable, "-m", "bench.baseline_api"], env)
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/healthz", self.processes["baseline a"])
        self.details["baseline_a"] = await self.http_loads("baseline a", f"{url}/requests", SERIALS["baseline a"])
        self.stop("baseline a")

    async def start_system(self) -> None:
        task = self.progress.add_task("starting the four services and the courier simulator", total=None)
        self.system = bench_system(
            self.workdir / "system",
            self.infra.amqp_url,
            {s: self.dsns[s] for s in SERVICES},
            self.infra.service_env(),
        )
        for attempt in (1, 2):
            try:
                await self.system.start_all()
                break
            except (TimeoutError, RuntimeError) as error:
                # The shared broker may be away for a while (another engineer's fault-injection tests): once more.
                self.system.stop_all()
                if attempt == 2:
                    raise
                self.console.print(f"[yellow]the system did not start ({str(error).splitlines()[0]}); again[/]")
                await asyncio.sleep(10)
        for name, process in self.system.processes.items():
            self.monitor.watch(name, process.pid)
        self.progress.remove_task(task)

    async def intake_phase(self) -> None:
        for service in ("review", "documents", "shipping"):
            self.stop_service(service)
        results = await self.http_loads(
            "intake", f"{self.system.url('intake')}/requests", SERIALS["intake"], profile_pid=self.pid("intake")
        )
        self.details["intake"] = results
        baseline = self.details.get("baseline_a", {})
        sat, half = results["saturation"], results["half_load"]
        base_sat, base_half = baseline.get("saturation", {}), baseline.get("half_load", {})
        self.figures += [
            Figure(
                "intake_saturation_rps",
                "intake POST /requests at saturation",
                "req/s",
                sat["requests_per_s"],
                base_sat.get("requests_per_s"),
                target_ratio=0.5,
                note=f"closed loop, {self.args.concurrency} clients",
            ),
            Figure(
                "intake_saturation_p99_ms",
                "  p99 latency at saturation",
                "ms",
                sat["latency"]["p99_ms"],
                base_sat.get("latency", {}).get("p99_ms"),
                direction="lower",
            ),
            Figure(
                "intake_half_p50_ms",
                "  p50 latency at half load",
                "ms",
                half["latency"]["p50_ms"],
                base_half.get("latency", {}).get("p50_ms"),
                direction="lower",
            ),
            Figure(
                "intake_half_p95_ms",
                "  p95 latency at half load",
                "ms",
                half["latency"]["p95_ms"],
                base_half.get("latency", {}).get("p95_ms"),
                direction="lower",
            ),
            Figure(
                "intake_half_p99_ms",
                "  p99 latency at half load",
                "ms",
                half["latency"]["p99_ms"],
                base_half.get("latency", {}).get("p99_ms"),
                direction="lower",
                target_value=50,
                note=f"open loop at {half['rate']:.1f} req/s",
            ),
        ]
        # What intake published while the other stages were stopped is not part of the later phases.
        await self.wait_outbox_empty("intake")
        await asyncio.to_thread(self.purge_queues)
        for service in ("review", "documents", "shipping"):
            self.start_service(service)
        await asyncio.gather(*(self.system.wait_ready(s, timeout=180) for s in ("review", "documents", "shipping")))

    async def http_loads(self, label: str, url: str, serial_start: int, profile_pid: int | None = None) -> dict:
        duration = self.args.duration
        saturation = await self.load(f"{label}: closed loop", url, serial_start, "closed", duration=duration)
        sat = http_stats(saturation)
        rate = max(sat["requests_per_s"] / 2, 1.0)
        half_result = await self.load(
            f"{label}: open loop at half", url, serial_start + 8_000, "open", duration=duration, rate=rate
        )
        half = http_stats(half_result) | {"rate": rate}
        if profile_pid is not None and self.args.profile_seconds > 0:
            out = self.out / "profiles" / f"{label}-saturation.collapsed"
            recording = asyncio.create_task(profiles.record(profile_pid, self.args.profile_seconds, out))
            await self.load(
                f"{label}: closed loop, profiled", url, serial_start + 16_000, "closed",
                duration=self.args.profile_seconds + 2, record=False,
            )  # fmt: skip
            if await recording:
                self.write_profile(label, out)
        return {"saturation": sat, "half_load": half}

    async def load(
        self,
        label: str,
        url: str,
        serial_start: int,
        mode: str,
        *,
        duration: float,
        rate: float = 0.0,
        record: bool = True,
    ) -> dict[str, Any]:
        out = self.out / "raw" / f"{label.replace(' ', '_').replace(':', '').replace(',', '')}.json"
        command = [
            sys.executable, "-m", "bench.httpload", "--url", url, "--mode", mode,
            "--concurrency", str(self.args.concurrency), "--rate", str(rate), "--duration", str(duration),
            "--mix", json.dumps(self.args.mix_weights), "--courier-share", str(self.args.courier_share),
            "--serial-start", str(serial_start), "--out", str(out),
        ]  # fmt: skip
        async with self.phase(label) as entry:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=self.env(), stdout=asyncio.subprocess.PIPE
            )
            self.monitor.watch("load generator", process.pid)
            task = self.progress.add_task(label, total=duration)
            assert process.stdout is not None
            async for line in process.stdout:
                progress = json.loads(line)
                if "elapsed" in progress:
                    elapsed = progress["elapsed"]
                    self.progress.update(
                        task,
                        completed=min(elapsed, duration),
                        description=f"{label}: {progress['ok']} ok, {progress['ok'] / max(elapsed, 1e-3):.0f}/s",
                    )
            await process.wait()
            self.monitor.forget("load generator")
            self.progress.update(task, completed=duration)
        result = json.loads(out.read_text())
        if record:
            entry["usage"] = self.usage(entry)
            start = result["started_wall"]
            ok = [sample for sample in result["samples"] if 200 <= sample[2] < 300]
            name = label.split(":")[0]
            self.timeline["throughput"].setdefault(f"{name} 2xx", []).extend(start + s[0] + s[1] for s in ok)
            self.timeline["latency"].setdefault(name, []).extend((start + s[0] + s[1], s[1]) for s in ok)
        else:
            out.unlink()
        return result

    async def baseline_b_phase(self) -> None:
        dsn = self.dsns["baseline_b"]
        await baseline_pipeline.create_schema(dsn)
        amqp_url = self.infra.amqp_url
        for stage in range(1, baseline_pipeline.STAGES + 1):
            command = [sys.executable, "-m", "bench.baseline_pipeline", "--stage", str(stage)]
            self.spawn(f"baseline b stage {stage}", [*command, "--amqp", amqp_url, "--dsn", dsn], self.env())
        duration, warmup = self.args.duration, 3.0
        done_times: list[float] = []
        latencies: list[float] = []
        connection = await aio_pika.connect_robust(f"{amqp_url}?name=baseline-driver")
        try:
            channel = await connection.channel(publisher_confirms=True)
            await baseline_pipeline.declare(channel)
            await asyncio.sleep(3)  # the four stages connect and start consuming
            window = asyncio.Semaphore(self.args.baseline_window)
            citizens = Citizens(mix=self.args.mix_weights, courier_share=self.args.courier_share, serial_start=60_000)

            async def on_done(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                now = time.time()
                done_times.append(now)
                latencies.append(now - json.loads(message.body)["t0"])
                await message.ack()
                window.release()

            done_queue = await channel.get_queue(baseline_pipeline.DONE)
            await done_queue.consume(on_done)
            async with self.phase("baseline b: window of requests in flight") as entry:
                task = self.progress.add_task("baseline b: four stages on aio-pika + asyncpg", total=duration)
                deadline = entry["start"] + duration
                while time.time() < deadline:
                    try:
                        await asyncio.wait_for(window.acquire(), timeout=max(0.1, deadline - time.time()))
                    except TimeoutError:
                        break
                    body = {"request_id": str(uuid.uuid4()), "t0": time.time(), "request": citizens.next_body()}
                    await channel.default_exchange.publish(
                        aio_pika.Message(json.dumps(body).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=baseline_pipeline.queue_name(1),
                    )
                    elapsed = time.time() - entry["start"]
                    self.progress.update(
                        task,
                        completed=min(elapsed, duration),
                        description=f"baseline b: {len(done_times)} through, {len(done_times) / elapsed:.0f}/s",
                    )
                self.progress.update(task, completed=duration)
            entry["usage"] = self.usage(entry)
        finally:
            await connection.close()
            for stage in range(1, baseline_pipeline.STAGES + 1):
                self.stop(f"baseline b stage {stage}")
            await asyncio.to_thread(self.purge_queues, "bench.b.")  # what was in flight: no later phase's business
        rate = steady_rate(done_times, entry["start"], entry["end"], warmup)
        through = sum(1 for t in done_times if entry["start"] + warmup <= t <= entry["end"])
        cpu = cpu_per_request(
            self.monitor.usage(entry["start"] + warmup, entry["end"]),
            through,
            lambda name: name.startswith("baseline b") or name in SHARED_INFRASTRUCTURE,
        )
        self.details["baseline_b"] = {
            "requests_per_s": round(rate, 2),
            "through": len(done_times),
            "window": self.args.baseline_window,
            "latency": latency_summary(latencies),
            "cpu_ms_per_request": cpu,
            # Each request is consumed once by each of the four stages.
            "cpu_ms_per_hop": round(cpu["total"] / baseline_pipeline.STAGES, 2) if cpu["total"] else None,
        }
        self.timeline["throughput"]["baseline b through"] = done_times

    async def end_to_end_phase(self) -> None:
        tracker = Tracker(self.dsns["intake"])
        await tracker.start()
        citizens = Citizens(
            mix=self.args.mix_weights, courier_share=self.args.courier_share, serial_start=SERIALS["end to end"]
        )
        submitter = Submitter(self.system.url("intake"), citizens, tracker)
        duration = self.args.e2e_duration
        warmup = min(30.0, duration / 3)
        try:
            async with self.phase("end to end: window in flight") as saturated:
                task = self.progress.add_task("end to end: saturation", total=duration)
                label = "end to end: saturation"
                ticker = asyncio.create_task(self.tick(task, label, saturated["start"], duration, tracker))
                counted_from = asyncio.create_task(self.database_counters_after(warmup))
                submitted = await closed_window(submitter, window=self.args.window, duration=duration)
                counted_to = await stages.database_counters(self.service_dsns)
                ticker.cancel()
            saturated["usage"] = self.usage(saturated)
            rate = steady_rate(tracker.shipped_times, saturated["start"], saturated["end"], warmup)
            hops_saturated = await stages.hops(self.service_dsns, saturated["start"] + warmup, saturated["end"])
            steady_start = saturated["start"] + warmup
            shipped_steady = sum(1 for t in tracker.shipped_times if steady_start <= t <= saturated["end"])
            cpu = cpu_per_request(
                self.monitor.usage(steady_start, saturated["end"]),
                shipped_steady,
                lambda name: name not in LOAD_GENERATORS,
            )
            consumed = sum(hop["handled"] for hop in hops_saturated)
            database = stages.per_request(await counted_from, counted_to, shipped_steady)
            events_per_request = consumed / shipped_steady if shipped_steady else None
            profiled = await self.profile_services(submitter) if self.args.profile_seconds > 0 else []
            await self.settle(tracker, submitted + profiled, "end to end: letting the saturation run finish")

            half_rate = max(rate / 2, 0.05)
            async with self.phase("end to end: open loop at half") as half:
                task = self.progress.add_task("end to end: half load", total=duration)
                ticker = asyncio.create_task(self.tick(task, "end to end: half load", half["start"], duration, tracker))
                half_submissions = await open_loop(submitter, rate=half_rate, duration=duration)
                ticker.cancel()
                self.progress.update(task, completed=duration)
                await self.settle(tracker, half_submissions, "end to end: waiting for the half load to ship")
            half["usage"] = self.usage(half)
            latencies = [s.shipped - s.started for s in half_submissions if s.shipped is not None]
            hops_half = await stages.hops(self.service_dsns, half["start"], half["end"])
            lead_times = await stages.lead_times(self.dsns["intake"], half_submissions)
        finally:
            await tracker.stop()
            await submitter.close()
        calls = submitter.calls / max(len(submitter.tracker.submissions), 1)
        self.details["end_to_end"] = {
            "saturation": {
                "requests_per_s": round(rate, 3),
                "window": self.args.window,
                "warmup_s": warmup,
                "submitted": len(submitted),
                "http_calls_per_request": round(calls, 2),
                "queues": self.monitor.queue_rates(saturated["start"] + warmup, saturated["end"]),
                "hops": hops_saturated,
                "cpu_ms_per_request": cpu,
                "events_consumed_per_request": round(events_per_request, 2) if events_per_request else None,
                "database_per_request": database,
            },
            "half_load": {
                "rate": round(half_rate, 3),
                "submitted": len(half_submissions),
                "shipped": len(latencies),
                "latency": latency_summary(latencies),
                "queues": self.monitor.queue_rates(half["start"], half["end"]),
                "hops": hops_half,
                "stage_lead_times": lead_times,
            },
            "failures": submitter.errors,
            "upload_conflicts_409": submitter.conflicts,
            "http_calls": submitter.calls,
        }
        self.timeline["throughput"]["end to end: shipped"] = list(tracker.shipped_times)
        self.timeline["latency"]["end to end (submission → shipped)"] = [
            (s.shipped, s.shipped - s.started) for s in [*submitted, *half_submissions] if s.shipped is not None
        ]
        baseline = self.details.get("baseline_b", {}).get("requests_per_s")
        database = self.details["end_to_end"]["saturation"]["database_per_request"]
        summary = latency_summary(latencies)
        self.figures += [
            Figure(
                "e2e_saturation_rps",
                "end to end: requests/s submitted → shipped",
                "req/s",
                round(rate, 3),
                baseline,
                target_ratio=0.25,
                note=f"{self.args.window} in flight; {calls:.1f} HTTP calls per request (scans, retries after 409)",
            ),
            Figure(
                "e2e_cpu_ms_per_request",
                "  CPU per request shipped (every process, broker and database)",
                "ms",
                cpu["total"],
                self.details.get("baseline_b", {}).get("cpu_ms_per_request", {}).get("total"),
                direction="lower",
                target_value=60,
                note=", ".join(f"{name} {ms:g}" for name, ms in cpu["by_process"].items()),
            ),
            Figure(
                "e2e_cpu_ms_per_event",
                "  CPU per event consumed",
                "ms",
                round(cpu["total"] / events_per_request, 2) if cpu["total"] and events_per_request else None,
                self.details.get("baseline_b", {}).get("cpu_ms_per_hop"),
                direction="lower",
                target_ratio=1.0,
                note=f"{events_per_request or 0:.1f} events consumed per request; baseline: CPU per hop",
            ),
            Figure(
                "e2e_transactions_per_request",
                "  PostgreSQL transactions per request shipped",
                "",
                round(sum(counts["transactions"] for counts in database.values()), 1) if database else None,
                direction="lower",
                note=", ".join(
                    f"{service} {counts['transactions']:g} ({counts['sessions']:g} connections)"
                    for service, counts in database.items()
                ),
            ),
            Figure("e2e_half_p50_ms", "  p50 submission → shipped at half load", "ms", summary["p50_ms"]),
            Figure("e2e_half_p95_ms", "  p95 submission → shipped at half load", "ms", summary["p95_ms"]),
            Figure(
                "e2e_half_p99_ms",
                "  p99 submission → shipped at half load",
                "ms",
                summary["p99_ms"],
                direction="lower",
                target_value=400,
            ),
        ]

    async def profile_services(self, submitter: Submitter) -> list[Submission]:
        """py-spy on every service while the window keeps the pipeline saturated (not part of any figure)."""
        seconds = self.args.profile_seconds
        async with self.phase("end to end: profiled"):
            task = self.progress.add_task("end to end: profiling every service", total=seconds)
            outs = {service: self.out / "profiles" / f"{service}-end-to-end.collapsed" for service in SERVICES}
            recordings = {
                service: asyncio.create_task(profiles.record(self.pid(service), seconds, out))
                for service, out in outs.items()
            }
            load = asyncio.create_task(closed_window(submitter, window=self.args.window, duration=seconds + 2))
            started = time.time()
            while not load.done():
                self.progress.update(task, completed=min(time.time() - started, seconds))
                await asyncio.sleep(0.5)
            self.progress.update(task, completed=seconds)
            for service, recording in recordings.items():
                if await recording:
                    self.write_profile(f"{service} (end to end)", outs[service])
            return load.result()

    async def backlog_phase(self) -> None:
        count = self.args.backlog
        tracker = Tracker(self.dsns["intake"])
        await tracker.start()
        citizens = Citizens(
            mix=self.args.mix_weights, courier_share=self.args.courier_share, serial_start=SERIALS["backlog"]
        )
        submitter = Submitter(self.system.url("intake"), citizens, tracker)
        try:
            for service in ("review", "documents"):
                self.stop_service(service)
            async with self.phase("backlog: queueing") as queueing:
                task = self.progress.add_task(f"backlog: submitting {count} requests", total=count)
                submitted = await submit_many(
                    submitter, count, concurrency=self.args.concurrency, on_progress=lambda: self.progress.advance(task)
                )
            await self.wait_outbox_empty("intake")
            await asyncio.sleep(6)  # the management API's counts are refreshed every five seconds
            queued = await asyncio.to_thread(self.monitor.management.queues) if self.monitor.management else []
            async with self.phase("backlog: draining") as draining:
                task = self.progress.add_task("backlog: draining (shipped)", total=len(submitted))
                for service in ("review", "documents"):
                    self.start_service(service)
                # The drain is timed from the start of the processes: a service catching up with a backlog may be
                # slow to answer /readyz, and nothing waits for it to say it is ready before it works.
                ready = time.time()
                readiness = asyncio.create_task(self.time_to_ready(("review", "documents"), ready))
                drained = await wait_all_shipped(
                    tracker,
                    submitted,
                    timeout=max(900.0, len(submitted) * 3.0),
                    on_progress=lambda shipped: self.progress.update(task, completed=shipped),
                )
        finally:
            await tracker.stop()
            await submitter.close()
        ready_after = readiness.result() if readiness.done() else None
        readiness.cancel()
        last = max((s.shipped for s in submitted if s.shipped is not None), default=time.time())
        drain_seconds = last - ready
        # Memory from the first request shipped (the processes have imported and warmed up) to the last.
        first = min((s.shipped for s in submitted if s.shipped is not None), default=ready)
        memory = self.memory_during(first, last)
        growth = max((entry["growth_pct"] for name, entry in memory.items() if name in SERVICES), default=None)
        self.details["backlog"] = {
            "requests": len(submitted),
            "queued_in_s": round(queueing["end"] - queueing["start"], 1),
            "queued": {q["name"]: q["messages"] for q in queued if q["messages"] and q["name"].startswith("dukcapil.")},
            "rabbitmq_mb_before_queueing": self.rss_at("rabbitmq", queueing["start"]),
            "rabbitmq_mb_queued": self.rss_at("rabbitmq", draining["start"]),
            "upload_conflicts_409": submitter.conflicts,
            "drained": drained,
            "ready_after_s": ready_after,
            "drain_s": round(drain_seconds, 1),
            "drain_requests_per_s": round(len(submitted) / drain_seconds, 3) if drain_seconds > 0 else None,
            "memory": memory,
            "usage": self.monitor.usage(ready, last),
            "failures": submitter.errors,
        }
        self.figures += [
            Figure(
                "backlog_drain_s",
                f"backlog of {len(submitted)}: time to drain",
                "s",
                round(drain_seconds, 1),
                direction="lower",
                note="from starting review and documents to the last request shipped",
            ),
            Figure(
                "backlog_memory_growth_pct",
                "  memory growth while draining (largest service)",
                "%",
                growth,
                direction="lower",
                target_value=FLAT_MEMORY_GROWTH_PCT,
                note="RSS over the last fifth of the drain vs. its first fifth; the issue's backlog is 100,000",
            ),
        ]

    # --- helpers ---

    async def time_to_ready(self, services: tuple[str, ...], started: float) -> float | None:
        """Seconds until every one of `services` answered /readyz (None if not within ten minutes)."""
        try:
            await asyncio.gather(*(self.system.wait_ready(service, timeout=600) for service in services))
        except (TimeoutError, RuntimeError):
            return None
        return round(time.time() - started, 1)

    def rss_at(self, name: str, moment: float) -> float | None:
        series = self.monitor.rss_series(name, moment - 5, moment + 5)
        return round(min(series, key=lambda point: abs(point[0] - moment))[1], 1) if series else None

    def memory_during(self, start: float, end: float) -> dict[str, Any]:
        """Per process: RSS at the start, peak and end of the drain, and the growth from its first fifth to its
        last fifth (flat memory: a backlog held in the broker, not in the services)."""
        found = {}
        names = {sample["name"] for sample in self.monitor.samples}
        span = max(end - start, 1e-9)
        for name in sorted(names):
            series = self.monitor.rss_series(name, start, end)
            if len(series) < 5:
                continue
            first = [mb for t, mb in series if t <= start + span / 5]
            last = [mb for t, mb in series if t >= end - span / 5]
            if not first or not last:
                continue
            before, after = sum(first) / len(first), sum(last) / len(last)
            found[name] = {
                "start_mb": round(series[0][1], 1),
                "peak_mb": round(max(mb for _, mb in series), 1),
                "end_mb": round(series[-1][1], 1),
                "growth_mb": round(after - before, 1),
                "growth_pct": round(100 * (after - before) / before, 1),
            }
        return found

    async def tick(self, task: Any, label: str, start: float, duration: float, tracker: Tracker) -> None:
        submitted, shipped = len(tracker.submissions), tracker.count_shipped()
        while True:
            elapsed = time.time() - start
            self.progress.update(
                task,
                completed=min(elapsed, duration),
                description=f"{label}: {len(tracker.submissions) - submitted} submitted, "
                f"{tracker.count_shipped() - shipped} shipped",
            )
            await asyncio.sleep(0.5)

    async def settle(self, tracker: Tracker, submissions: list[Submission], label: str) -> None:
        task = self.progress.add_task(label, total=len(submissions))
        await wait_all_shipped(
            tracker,
            submissions,
            timeout=max(180.0, len(submissions) * 2.0),
            on_progress=lambda shipped: self.progress.update(task, completed=shipped),
        )

    async def database_counters_after(self, seconds: float) -> dict[str, tuple[int, int]]:
        """The services' database counters once the warm-up is over, where the CPU figures start counting."""
        await asyncio.sleep(seconds)
        return await stages.database_counters(self.service_dsns)

    async def wait_outbox_empty(self, service: str, timeout: float = 120) -> None:
        connection = await asyncpg.connect(self.dsns[service])
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                    return
                await asyncio.sleep(0.5)
        finally:
            await connection.close()

    def purge_queues(self, prefix: str = "") -> None:
        assert self.monitor.management is not None
        for queue in self.monitor.management.queues():
            if queue["messages"] and queue["name"].startswith(prefix):
                self.monitor.management.purge(queue["name"])

    def write_profile(self, label: str, collapsed: Path) -> None:
        summary = profiles.summarize(collapsed.read_text())
        collapsed.with_suffix(".txt").write_text(profiles.as_text(label, summary))
        self.details.setdefault("profiles", {})[label] = summary

    def env(self) -> dict[str, str]:
        return os.environ | {"PYTHONPATH": str(ROOT)}

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name.replace(' ', '-')}.log", "ab")  # the process writes to it
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        self.monitor.watch(name, self.processes[name].pid)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        self.monitor.forget(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def service_dsns(self) -> dict[str, str]:
        return {service: self.dsns[service] for service in SERVICES}

    def pid(self, service: str) -> int:
        return self.system.processes[service].pid

    def stop_service(self, service: str) -> None:
        self.monitor.forget(service)
        self.system.stop(service)

    def start_service(self, service: str) -> None:
        self.system.start(service)
        self.monitor.watch(service, self.pid(service))

    async def cleanup(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        if self.system is not None:
            await asyncio.to_thread(self.system.stop_all)
        self.monitor.stop()
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        for log in self.workdir.rglob("*.log"):
            shutil.copy(log, logs / log.name)
        shutil.rmtree(self.workdir, ignore_errors=True)
        try:
            await self.infra.drop_all()
        except Exception as error:  # the figures are still worth reporting
            self.console.print(f"[red]could not remove the vhost or databases: {error!r}[/]")

    # --- the report ---

    def report(self) -> int:
        for phase in self.phases:
            restarts = [t for t in self.monitor.broker_restarts if phase["start"] - 5 <= t <= phase["end"] + 5]
            if restarts:
                phase["rabbitmq_away"] = True
                self.console.print(
                    f"[red]RabbitMQ was away (stopped or restarted) during '{phase['name']}' (someone else's "
                    "test?): its figures are not valid; run again[/]"
                )
        self.details["rabbitmq_away_at"] = self.monitor.broker_restarts
        self.details["phases"] = self.phases
        self.details["resources"] = {phase["name"]: phase.get("usage") for phase in self.phases if phase.get("usage")}
        table = plain_table(self.figures)
        by_work = self.cpu_by_work()
        if by_work:
            cpu = self.details["end_to_end"]["saturation"]["cpu_ms_per_request"]["by_process"]
            table += "\n\n" + work_table(by_work, cpu)
        (self.out / "table.md").write_text(table + "\n")
        write_results(self.out / "results.json", self.figures, self.details)
        memory = {
            name: self.monitor.rss_series(name, 0, float("inf"))
            for name in (*SERVICES, "rabbitmq", "baseline a", *(f"baseline b stage {i}" for i in range(1, 5)))
        }
        plot.draw(self.out / "throughput.png", self.timeline, self.phases, memory, self.started)
        self.print_tables()
        if by_work:
            self.console.print("\n" + work_table(by_work, cpu), markup=False)
        self.console.print(f"\nresults: {self.out / 'results.json'}, plot: {self.out / 'throughput.png'}")
        return 0

    def cpu_by_work(self) -> dict[str, dict[str, float]]:
        """End to end at saturation, each service's CPU per request divided by kind of work in the shares of its
        profile (recorded under the same load, right after the window the CPU was counted in); kept in
        results.json beside the CPU by process."""
        saturation = self.details.get("end_to_end", {}).get("saturation")
        profiled = self.details.get("profiles", {})
        if saturation is None or not saturation["cpu_ms_per_request"]["by_process"]:
            return {}
        shares = {
            service: profiled[f"{service} (end to end)"]["by_work_pct"]
            for service in SERVICES
            if f"{service} (end to end)" in profiled
        }
        by_work = cpu_by_work(saturation["cpu_ms_per_request"]["by_process"], shares)
        saturation["cpu_ms_per_request_by_work"] = by_work
        return by_work

    def print_tables(self) -> None:
        table = Table(title="Figures (ours | baseline measured in the same run | ratio | target)")
        for column in ("figure", "ours", "baseline", "ratio", "target", "met?"):
            table.add_column(column, justify="left" if column == "figure" else "right")
        for row in table_rows(self.figures)[1:]:
            style = "red" if row[5] == "NO" else "green" if row[5] == "yes" else None
            table.add_row(*row, style=style)
        self.console.print(table)
        e2e = self.details.get("end_to_end", {}).get("half_load", {})
        if e2e.get("hops"):
            hops = Table(title="Per hop at half load (time in queue: producer's commit → consumer's transaction)")
            for column in ("hop", "event", "handled/s", "queue p50 ms", "p95", "p99", "relay p50 ms", "p95 "):
                hops.add_column(column)
            for hop in e2e["hops"]:
                hops.add_row(
                    hop["hop"], hop["event"], str(hop["handled_per_s"]), str(hop["queue_p50_ms"]),
                    str(hop["queue_p95_ms"]), str(hop["queue_p99_ms"]), str(hop["relay_p50_ms"]),
                    str(hop["relay_p95_ms"]),
                )  # fmt: skip
            self.console.print(hops)
        if e2e.get("stage_lead_times"):
            lead = Table(title="Time each stage held a request at half load (from intake's history)")
            for column in ("stage", "count", "p50 ms", "p95 ms", "p99 ms"):
                lead.add_column(column)
            for stage, summary in e2e["stage_lead_times"].items():
                lead.add_row(
                    stage, str(summary["count"]), str(summary["p50_ms"]), str(summary["p95_ms"]), str(summary["p99_ms"])
                )
            self.console.print(lead)
        resources = Table(title="Peak RSS (MB) and CPU seconds per process, by phase")
        names = sorted({name for usage in self.details["resources"].values() for name in usage})
        resources.add_column("phase")
        for name in names:
            resources.add_column(name, justify="right")
        for phase, usage in self.details["resources"].items():
            cells = [f"{usage[n]['peak_rss_mb']:.0f} / {usage[n]['cpu_s']:.1f}" if n in usage else "" for n in names]
            resources.add_row(phase, *cells)
        self.console.print(resources)


async def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: the process exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s")
            await asyncio.sleep(0.2)


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "started": datetime.now().isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.exit(asyncio.run(Bench(args).run()))
