"""The benchmark's pieces (bench/, run with `make bench`, not here): its arithmetic, its requests, its profile
summary, its HTTP client, and that both baselines start and do their one job against the real PostgreSQL and
RabbitMQ. The benchmark itself is not run by the tests."""

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aio_pika
import asyncpg
import pytest

from bench import baseline_api, baseline_pipeline, profiles, stages
from bench.citizens import TYPES, Citizens, parse_mix
from bench.footprint import per_request
from bench.httpload import HttpConnection, closed_loop, open_loop
from bench.report import (
    Figure,
    broken_at_gaps,
    cpu_by_work,
    http_stats,
    latency_summary,
    per_second,
    percentile,
    plain_table,
    steady_rate,
    work_table,
    write_results,
)

from .e2e.system import free_port

ROOT = Path(__file__).resolve().parent.parent


# --- arithmetic ---


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 99) == 99
    assert latency_summary([0.010, 0.020, 0.030]) == {
        "count": 3,
        "p50_ms": 20.0,
        "p95_ms": 29.0,
        "p99_ms": 29.8,
        "max_ms": 30.0,
    }


def test_rates_count_only_the_window_after_the_warmup() -> None:
    times = [100.5, 101.5, 102.5, 103.5, 104.5, 200.0]
    assert steady_rate(times, 100, 105) == pytest.approx(1.0)
    assert steady_rate(times, 100, 105, warmup=2) == pytest.approx(1.0)
    assert steady_rate(times, 100, 101, warmup=2) == 0.0
    assert per_second([100.2, 100.7, 101.1, 99.0], 100) == {0: 2, 1: 1}


def test_http_stats_keep_successes_after_the_warmup() -> None:
    result = {
        "duration": 4,
        # (start offset, latency, status): one in the warm-up, one refused, one without an answer
        "samples": [[1.0, 0.5, 201], [2.5, 0.010, 201], [3.0, 0.030, 201], [3.5, 0.020, 422], [3.6, 1.0, 0]],
    }
    stats = http_stats(result, warmup=2)
    assert stats["requests_per_s"] == 1.0
    assert stats["errors"] == 2
    assert stats["statuses"] == [0, 201, 422]
    assert stats["latency"]["count"] == 2
    assert stats["latency"]["p50_ms"] == 20.0


def test_ratio_and_target_of_a_throughput() -> None:
    met = Figure("x", "x", "req/s", ours=60, baseline=100, target_ratio=0.5)
    missed = Figure("x", "x", "req/s", ours=40, baseline=100, target_ratio=0.5)
    assert met.ratio == pytest.approx(0.6) and met.met is True
    assert missed.met is False
    assert met.target == "≥ 0.5× baseline"
    assert Figure("x", "x", "req/s", ours=40, target_ratio=0.5).met is None  # no baseline measured: no verdict
    assert Figure("x", "x", "req/s", ours=None, baseline=10, target_ratio=0.5).met is False


def test_absolute_targets_and_latencies() -> None:
    fast = Figure("p99", "p99", "ms", ours=12.0, baseline=4.0, direction="lower", target_value=50)
    slow = Figure("p99", "p99", "ms", ours=80.0, direction="lower", target_value=50)
    pdf = Figure("pdf", "pdf", "/s", ours=3.0, target_value=100)
    assert fast.met is True and fast.ratio == pytest.approx(3.0) and fast.target == "< 50 ms"
    assert slow.met is False
    assert pdf.met is False and pdf.target == "≥ 100 /s"
    assert Figure("info", "info", "ms", ours=5.0).met is None


def test_table_and_results_file(tmp_path: Path) -> None:
    figures = [
        Figure("intake", "intake POST /requests", "req/s", ours=150, baseline=500, target_ratio=0.5),
        Figure("p99", "  p99 at half load", "ms", ours=22.5, baseline=3.2, direction="lower", target_value=50),
    ]
    table = plain_table(figures).splitlines()
    assert table[0].split("|")[1].strip() == "figure"
    assert "0.30×" in table[2] and table[2].rstrip(" |").endswith("NO")
    assert table[3].rstrip(" |").endswith("yes")
    write_results(tmp_path / "results.json", figures, {"machine": {"cpus": 2}})
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["figures"][0]["ratio"] == 0.3 and written["figures"][0]["met"] is False
    assert written["machine"] == {"cpus": 2}


# --- requests ---


def test_mix_is_parsed_and_kept() -> None:
    assert parse_mix("") == dict.fromkeys(TYPES, 1.0)
    assert parse_mix("biodata_wni=3, kartu_keluarga") == {"biodata_wni": 3.0, "kartu_keluarga": 1.0}
    with pytest.raises(ValueError, match="unknown request type"):
        parse_mix("ktp_el=1")
    citizens = Citizens(mix={"biodata_wni": 3, "akta_kematian": 1}, courier_share=0.25)
    bodies = [citizens.next_body() for _ in range(40)]
    assert Counter(body["type"] for body in bodies) == {"biodata_wni": 30, "akta_kematian": 10}
    assert sum(body["delivery"]["method"] == "courier" for body in bodies) == 10


def test_every_request_is_for_people_of_its_own() -> None:
    citizens = Citizens(serial_start=9_990)
    bodies = [citizens.next_body() for _ in range(400)]
    people = Counter((body["type"], body["applicant"]["nik"]) for body in bodies)
    assert max(people.values()) == 1
    deceased = [body["details"]["deceased"]["nik"] for body in bodies if body["type"] == "akta_kematian"]
    assert len(set(deceased)) == len(deceased)
    offices = {body["delivery"].get("pickup_kecamatan_code") for body in bodies} - {None}
    assert len(offices) == 28  # spread over every kecamatan office, as real requests are


# --- profiles ---


def test_profile_summary_by_package_and_function() -> None:
    collapsed = "\n".join(
        [
            "<module> (dukcapil_intake/__main__.py:5);run (asyncio/runners.py:118);"
            "submit (dukcapil_intake/requests/entrypoints/http.py:330);execute (sqlalchemy/engine/base.py:1400) 6",
            "<module> (dukcapil_intake/__main__.py:5);run (asyncio/runners.py:118);"
            "submit (dukcapil_intake/requests/entrypoints/http.py:330);dumps (json/__init__.py:231) 2",
            "<module> (dukcapil_intake/__main__.py:5);run (asyncio/runners.py:118);select (selectors.py:468) 2",
        ]
    )
    summary = profiles.summarize(collapsed)
    assert summary["samples"] == 10
    assert summary["own_time_by_package_pct"] == [
        ["sqlalchemy", 60.0],
        ["stdlib json", 20.0],
        ["stdlib selectors", 20.0],
    ]
    assert summary["top_own_time_pct"][0] == ["execute (sqlalchemy/engine/base.py)", 60.0]
    # The entry point and the event loop are in every sample and say nothing: left out of the totals.
    assert summary["top_total_time_pct"][0] == ["submit (dukcapil_intake/requests/entrypoints/http.py)", 80.0]
    assert "60.0%  sqlalchemy" in profiles.as_text("intake", summary)


_LOOP = "<module> (dukcapil_review/__main__.py:5);run (asyncio/runners.py:118);_run_once (asyncio/base_events.py:1922)"
_WRITE = "_SelectorSocketTransport.write (asyncio/selector_events.py:1071)"


@pytest.mark.parametrize(
    ("stack", "kind"),
    [
        (
            f"{_LOOP};save (dukcapil_review/adapters/repository.py:110);execute (asyncpg/connection.py:350);{_WRITE}",
            "PostgreSQL: round trips, asyncpg",
        ),
        (f"{_LOOP};publish (aiormq/channel.py:700);{_WRITE}", "RabbitMQ: FastStream, aiormq, socket writes"),
        (f"{_LOOP};send (uvicorn/protocols/http/h11_impl.py:480);{_WRITE}", "HTTP: FastAPI, Starlette, uvicorn"),
        (
            f"{_LOOP};consume (faststream/_internal/subscriber/usecase.py:300)",
            "RabbitMQ: FastStream, aiormq, socket writes",
        ),
        (f"{_LOOP};execute (sqlalchemy/engine/base.py:1400)", "SQLAlchemy"),
        (f"{_LOOP};decide (dukcapil_review/domain/review.py:80)", "our code, pydantic"),
        (f"{_LOOP};EpollSelector.select (selectors.py:468)", None),
        (
            "_bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81);"
            "Condition.wait (threading.py:327)",
            None,
        ),
        (
            "_bootstrap (threading.py:1002);DirectoryFileStore._save (dukcapil_shared/files.py:50);fsync (os.py:1)",
            "files written (scans, PDFs), fsync waits too",
        ),
        (
            "_bootstrap (threading.py:1002);PadesSealer.seal_now (dukcapil_documents/adapters/pades.py:87);"
            "fill (sign/signers/pdf_byterange.py:308)",
            "PDF: render, QR code, seal",
        ),
        (
            "_bootstrap (threading.py:1002);render_now (dukcapil_documents/adapters/pdf.py:120);uuid4 (uuid.py:723)",
            "PDF: render, QR code, seal",
        ),
        (f"{_LOOP};dumps (json/__init__.py:231)", "the rest (standard library, metrics, logs)"),
    ],
)
def test_a_sample_is_counted_under_the_kind_of_work_its_stack_shows(stack: str, kind: str | None) -> None:
    frames = [profiles.parse_frame(frame) for frame in stack.split(";")]
    assert profiles.kind_of_work(frames) == kind


def test_the_kinds_of_work_share_the_samples_of_threads_not_waiting() -> None:
    collapsed = "\n".join(
        [
            f"{_LOOP};execute (asyncpg/connection.py:350);{_WRITE} 6",
            f"{_LOOP};execute (sqlalchemy/engine/base.py:1400) 2",
            f"{_LOOP};EpollSelector.select (selectors.py:468) 10",
        ]
    )
    summary = profiles.summarize(collapsed)
    assert summary["waiting_samples"] == 10
    shares = dict(summary["by_work_pct"])
    assert shares["PostgreSQL: round trips, asyncpg"] == 75.0
    assert shares["SQLAlchemy"] == 25.0
    assert [kind for kind, _ in summary["by_work_pct"]] == list(profiles.WORK)
    assert "75.0%  PostgreSQL: round trips, asyncpg" in profiles.as_text("review", summary)


def test_each_services_cpu_is_divided_by_its_profiles_shares() -> None:
    cpu = {"review": 10.0, "shipping": 8.0, "postgresql": 12.5, "rabbitmq": 9.0}
    shares = {
        "review": [["PostgreSQL: round trips, asyncpg", 40.0], ["SQLAlchemy", 60.0]],
        "shipping": [["PostgreSQL: round trips, asyncpg", 50.0], ["SQLAlchemy", 50.0]],
    }
    by_work = cpu_by_work(cpu, shares)
    assert by_work == {
        "review": {"PostgreSQL: round trips, asyncpg": 4.0, "SQLAlchemy": 6.0},
        "shipping": {"PostgreSQL: round trips, asyncpg": 4.0, "SQLAlchemy": 4.0},
    }
    table = work_table(by_work, cpu).splitlines()
    assert table[0] == "| CPU ms per request, by kind of work | review | shipping | all |"
    assert "| PostgreSQL: round trips, asyncpg | 4.00 | 4.00 | 8.00 |" in table
    assert "| the service's CPU per request | 10.00 | 8.00 | 18.00 |" in table
    assert table[-1] == "Not profiled, CPU ms per request of their own: postgresql 12.5, rabbitmq 9."


# --- the HTTP client ---


async def test_load_generator_against_a_keep_alive_server() -> None:
    answers: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                answers.append(await _request_body(reader))
                body = b'{"ok": true}'
                writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = HttpConnection("127.0.0.1", port)
        assert await connection.post("/requests", b'{"a": 1}', timeout=5) == (201, b'{"ok": true}')
        connection.close()
        closed = await closed_loop(f"http://127.0.0.1:{port}/requests", lambda: b"{}", concurrency=4, duration=0.3)
        assert closed.samples and {sample[2] for sample in closed.samples} == {201}
        opened = await open_loop(f"http://127.0.0.1:{port}/requests", lambda: b"{}", rate=50, duration=0.4)
        assert len(opened.samples) == 20 and {sample[2] for sample in opened.samples} == {201}
        assert b'{"a": 1}' in answers
    finally:
        server.close()
        await server.wait_closed()


async def test_a_keep_alive_the_server_closed_is_not_counted_as_an_error() -> None:
    """uvicorn ends a keep-alive connection idle for 5 s, and the open loop reuses its idle connections after a
    stall. A connection the server closed is not reused, and a request that met the close on its way out (no byte
    of an answer) goes again on a new connection, as HTTP clients do: it never reached the app."""
    connections = 0

    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await _request_body(reader)
            writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            if connections > 1:  # the first closes while idle; the others take a second request, crossing the close
                await _request_body(reader)
        writer.close()

    server = await asyncio.start_server(answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = HttpConnection("127.0.0.1", port)
        assert await connection.post("/requests", b"{}", timeout=5) == (201, b"{}")
        assert connection.reader is not None
        assert await asyncio.wait_for(connection.reader.read(), 5) == b"", "the server closed it while idle"
        assert await connection.post("/requests", b"{}", timeout=5) == (201, b"{}")
        assert connections == 2, "the closed connection was not reused"
        assert await connection.post("/requests", b"{}", timeout=5) == (201, b"{}")
        assert connections == 3, "the request that crossed the close went again on a new connection"
    finally:
        server.close()
        await server.wait_closed()


async def _request_body(reader: asyncio.StreamReader) -> bytes:
    """The body of the next request on a test server's connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    length = int(next(line for line in lines if line.startswith("content-length")).split(":")[1])
    return await reader.readexactly(length)


# --- the baselines start and work, against the real servers ---


def _start(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)} | (env or {})
    command = [sys.executable, "-m", module, *args]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.mark.integration
async def test_baseline_a_inserts_the_row_intake_would(postgres) -> None:  # type: ignore[no-untyped-def]
    dsn = _plain_dsn(await postgres.create())
    await baseline_api.create_schema(dsn)
    port = free_port()
    process = _start("bench.baseline_api", env={"BASELINE_DSN": dsn, "BASELINE_PORT": str(port)})
    try:
        body = Citizens().next_body()
        status, answer = await _post_when_up(port, json.dumps(body).encode(), process)
        assert status == 201, answer
        connection = await asyncpg.connect(dsn)
        try:
            row = await connection.fetchrow("SELECT * FROM requests")
        finally:
            await connection.close()
        assert row["id"] == json.loads(answer)["id"]
        assert row["type"] == body["type"] and json.loads(row["applicant"]) == body["applicant"]
        assert row["status"] == "submitted"
    finally:
        process.terminate()
        process.wait(timeout=15)


async def _post_when_up(port: int, body: bytes, process: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await HttpConnection("127.0.0.1", port).post("/requests", body, timeout=10)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"baseline a did not answer: {process.stderr and process.stderr.read()}") from None
            await asyncio.sleep(0.2)


@pytest.mark.integration
async def test_baseline_b_passes_a_message_through_four_stages(postgres, amqp_url: str) -> None:  # type: ignore[no-untyped-def]
    dsn = _plain_dsn(await postgres.create())
    await baseline_pipeline.create_schema(dsn)
    connection = await aio_pika.connect_robust(amqp_url)
    stages = []
    try:
        channel = await connection.channel(publisher_confirms=True)
        await baseline_pipeline.declare(channel)
        for stage in range(1, baseline_pipeline.STAGES + 1):
            stages.append(_start("bench.baseline_pipeline", "--stage", str(stage), "--amqp", amqp_url, "--dsn", dsn))
        request_id = str(uuid.uuid4())
        await channel.default_exchange.publish(
            aio_pika.Message(json.dumps({"request_id": request_id, "t0": time.time()}).encode(), delivery_mode=2),
            routing_key=baseline_pipeline.queue_name(1),
        )
        done = await channel.get_queue(baseline_pipeline.DONE)
        deadline = time.monotonic() + 60
        while (message := await done.get(fail=False)) is None:
            assert all(stage.poll() is None for stage in stages), [s.stderr.read() for s in stages if s.poll()]
            assert time.monotonic() < deadline, "nothing came out of the fourth stage within 60 s"
            await asyncio.sleep(0.2)
        await message.ack()
        assert json.loads(message.body)["request_id"] == request_id
        db = await asyncpg.connect(dsn)
        try:
            rows = await db.fetch("SELECT stage FROM stage_rows WHERE request_id = $1 ORDER BY stage", request_id)
            outbox = await db.fetchval("SELECT count(*) FROM outbox")
        finally:
            await db.close()
        assert [row["stage"] for row in rows] == [1, 2, 3, 4]
        assert outbox == 4
    finally:
        for stage in stages:
            stage.terminate()
        for stage in stages:
            stage.wait(timeout=15)
        await connection.close()


def test_a_memory_line_breaks_where_the_process_was_not_running() -> None:
    xs, ys = broken_at_gaps([(0.0, 100.0), (1.0, 101.0), (30.0, 50.0), (31.0, 52.0)])
    assert xs[:2] == [0.0, 1.0] and xs[-2:] == [30.0, 31.0]
    assert len(xs) == 5 and math.isnan(ys[2]), "one break between the samples 29 s apart"
    assert broken_at_gaps([(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]) == ([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])


def test_footprint_counts_what_each_request_added() -> None:
    """bench.footprint's figures (docs/capacity.md): growth from the empty schema, a table made meanwhile included."""
    before = {
        "tables": {"outbox": {"rows": 0, "bytes": 8192}, "requests": {"rows": 0, "bytes": 16384}},
        "database_bytes": 1_000_000,
        "event_bytes": 0.0,
    }
    after = {
        "tables": {
            "outbox": {"rows": 20, "bytes": 3 * 8192},
            "requests": {"rows": 10, "bytes": 16384 + 8192},
            "inbox": {"rows": 30, "bytes": 8192},
        },
        "database_bytes": 1_000_000 + 10 * 5_000,
        "event_bytes": 1600.4,
    }
    figures = per_request(before, after, requests=10)
    assert figures["rows"] == 6.0
    assert figures["rows_by_table"] == {"outbox": 2.0, "requests": 1.0, "inbox": 3.0}
    assert (figures["events_published"], figures["events_consumed"]) == (2.0, 3.0)
    # Intake's lifecycle events are the other stages' steps in its history, not inbox rows.
    intake = per_request(before | {"learned": 4}, after | {"learned": 49}, requests=10)
    assert intake["events_consumed"] == 3.0 + 4.5
    assert figures["table_bytes"] == round((2 * 8192 + 8192 + 8192) / 10)
    assert figures["database_bytes"] == 5_000
    assert figures["event_bytes"] == 1600


async def test_database_counters_give_each_service_its_transactions_and_connections(postgres) -> None:  # type: ignore[no-untyped-def]
    dsns = {"busy": _plain_dsn(await postgres.create()), "idle": _plain_dsn(await postgres.create())}
    before = await stages.database_counters(dsns)
    for _ in range(2):  # two connections of four transactions each; a connection reports its counts as it closes
        connection = await asyncpg.connect(dsns["busy"])
        try:
            for _ in range(4):
                async with connection.transaction():
                    await connection.execute("SELECT 1")
        finally:
            await connection.close()
    deadline = time.monotonic() + 30
    while (figures := stages.per_request(before, await stages.database_counters(dsns), requests=2))["busy"][
        "sessions"
    ] < 1:
        assert time.monotonic() < deadline, f"the closed connections were never counted: {figures}"
        await asyncio.sleep(0.1)
    assert figures["busy"]["sessions"] == 1.0, figures
    assert 4 <= figures["busy"]["transactions"] <= 5, f"four a request, and asyncpg's own one a connection: {figures}"
    assert figures["idle"]["transactions"] < 1, "a database nobody used counts (almost) nothing"
    assert stages.per_request(before, before, requests=0) == {}


async def test_hops_count_intakes_lifecycle_steps_from_its_history_and_not_its_own(postgres) -> None:  # type: ignore[no-untyped-def]
    """Intake's lifecycle subscription writes no inbox row: its hops come from the history's `recorded_at`; the
    steps intake announced itself, in its history too, are no hop."""
    from dukcapil_shared.db import create_engine, migrate

    dsns = {}
    for service in ("intake", "review"):
        url = await postgres.create()
        engine = create_engine(url)
        await migrate(engine, f"dukcapil_{service}:migrations")
        await engine.dispose()
        dsns[service] = _plain_dsn(url)
    start = time.time()
    request_id, submitted, started = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    outbox = "INSERT INTO outbox (id, routing_key, subject, body, created_at, attempts, next_attempt_at, published_at)"
    intake = await asyncpg.connect(dsns["intake"])
    review = await asyncpg.connect(dsns["review"])
    try:
        await review.execute(
            f"{outbox} VALUES ($1, 'review.started.v1', $2, '{{}}', now(), 0, now(), now())", started, request_id
        )
        await intake.execute(
            f"{outbox} VALUES ($1, 'request.submitted.v1', $2, '{{}}', now(), 0, now(), now())", submitted, request_id
        )
        await review.execute(
            "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('dukcapil.review.requests', $1, now())",
            submitted,
        )
        await intake.execute(
            "INSERT INTO requests (id, number, type, status, applicant, details, delivery, kecamatan_code, "
            "submitted_at, updated_at, version, channel) "
            "VALUES ($1, 'N-1', 'biodata_wni', 'in_review', '{}', '{}', '{}', '36.02.14', now(), now(), 1, 'online')",
            request_id,
        )
        for event_id, event_type, stage in (
            (submitted, "request.submitted.v1", "intake"),
            (started, "review.started.v1", "review"),
        ):
            await intake.execute(
                "INSERT INTO request_history (request_id, event_id, event_type, stage, occurred_at, note) "
                "VALUES ($1, $2, $3, $4, now(), '')",
                request_id,
                event_id,
                event_type,
                stage,
            )
    finally:
        await intake.close()
        await review.close()
    found = {
        (hop["hop"], hop["consumer"], hop["event"]): hop["handled"]
        for hop in await stages.hops(dsns, start - 1, time.time() + 1)
    }
    assert found == {
        ("intake → review", "dukcapil.review.requests", "request.submitted.v1"): 1,
        ("review → intake", "dukcapil.intake.lifecycle", "review.started.v1"): 1,
    }
