"""The scan inspector reads each file for what it really is, with real files made here."""

import io
import threading
import time

import anyio
import pytest
from PIL import Image

from dukcapil_intake.requests.adapters import scans
from dukcapil_intake.requests.adapters.scans import DecodingScanInspector, inspect_now
from dukcapil_intake.requests.domain.scans import JPEG, PDF, PNG, Finding, ScanLimits, ScanReport
from dukcapil_testing import minimal_pdf

from .scan_files import encrypted_pdf, image, png_claiming

LIMITS = ScanLimits(max_bytes=5 * 1024 * 1024, max_pixels=50_000_000, max_pages=50)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (image("PNG"), ScanReport(Finding.readable, PNG, width=40, height=30)),
        (image("JPEG"), ScanReport(Finding.readable, JPEG, width=40, height=30)),
        (minimal_pdf(pages=2), ScanReport(Finding.readable, PDF, pages=2)),
    ],
)
def test_genuine_scans_are_read_with_their_size(content: bytes, expected: ScanReport) -> None:
    assert inspect_now(content, LIMITS) == expected


def test_a_png_claiming_60000_by_60000_pixels_is_refused_from_its_header_without_decoding() -> None:
    bomb = png_claiming(60_000, 60_000)
    assert len(bomb) < 5_000, "a bomb is small"
    started = time.perf_counter()
    assert inspect_now(bomb, LIMITS) == ScanReport(Finding.too_many_pixels, PNG, width=60_000, height=60_000)
    assert time.perf_counter() - started < 0.5


def test_the_pixel_limit_is_the_offices_not_pillows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard switched off
    limits = ScanLimits(max_bytes=LIMITS.max_bytes, max_pixels=1000, max_pages=50)
    assert inspect_now(png_claiming(60_000, 60_000), limits).finding == Finding.too_many_pixels
    assert inspect_now(image("JPEG", (40, 26)), limits) == ScanReport(
        Finding.too_many_pixels, JPEG, width=40, height=26
    )
    assert inspect_now(image("JPEG", (40, 25)), limits).finding == Finding.readable


def test_a_png_under_the_limit_is_decoded_whole_and_its_missing_pixels_found() -> None:
    assert inspect_now(png_claiming(1000, 1000, zeros=1000 * 1001), LIMITS).finding == Finding.readable  # filter + row
    assert inspect_now(png_claiming(1000, 1000, zeros=500_000), LIMITS) == ScanReport(Finding.unreadable, PNG)


@pytest.mark.parametrize(
    ("content", "claimed"),
    [
        (b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n%%EOF\n", PDF),
        (b"%PDF-1.4\n% only a header\n", PDF),
        (minimal_pdf()[:200], PDF),
        (image("PNG")[:-20], PNG),
        (image("JPEG")[:-100], JPEG),
        (image("JPEG")[:30], JPEG),
        (b"\xff\xd8\xff\xe0<html>" + b"x" * 100, JPEG),
        (b"\x89PNG\r\n\x1a\n" + b"<script>" * 10, PNG),
    ],
)
def test_a_file_that_only_starts_like_a_scan_is_unreadable(content: bytes, claimed: str) -> None:
    assert inspect_now(content, LIMITS) == ScanReport(Finding.unreadable, claimed)


def test_a_png_with_a_damaged_checksum_is_unreadable() -> None:
    content = bytearray(image("PNG"))
    content[29] ^= 0xFF  # the IHDR chunk's CRC
    assert inspect_now(bytes(content), LIMITS).finding == Finding.unreadable


def test_an_encrypted_pdf_is_refused_even_without_a_password() -> None:
    assert inspect_now(encrypted_pdf(), LIMITS) == ScanReport(Finding.encrypted, PDF)


def test_a_pdf_over_the_page_limit_is_refused_with_its_page_count() -> None:
    assert inspect_now(minimal_pdf(pages=51), LIMITS) == ScanReport(Finding.too_many_pages, PDF, pages=51)
    assert inspect_now(minimal_pdf(pages=50), LIMITS).finding == Finding.readable


def test_anything_else_is_not_a_scan() -> None:
    assert inspect_now(b"<html>", LIMITS) == ScanReport(Finding.not_a_scan)
    assert inspect_now(b"GIF89a" + b"\0" * 20, LIMITS) == ScanReport(Finding.not_a_scan)


async def test_decoding_runs_in_worker_threads_a_few_at_a_time_within_a_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def slow(content: bytes, limits: ScanLimits) -> ScanReport:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.3)
        with lock:
            running -= 1
        return ScanReport(Finding.readable, PDF)

    monkeypatch.setattr(scans, "inspect_now", slow)
    impatient = DecodingScanInspector(concurrency=2, timeout=0.05)
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(impatient.inspect, minimal_pdf(), LIMITS)
    assert await impatient.inspect(minimal_pdf(), LIMITS) == ScanReport(Finding.too_slow, PDF)
    assert most == 2, "abandoned decodings keep their slots until they end"
    assert time.perf_counter() - started >= 0.6, "four slow files through two slots took two rounds"
    assert (await DecodingScanInspector(timeout=5).inspect(minimal_pdf(), LIMITS)).finding == Finding.readable


async def test_a_large_genuine_image_is_decoded_whole() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((2000, 1500), 64).save(buffer, format="PNG")
    report = await DecodingScanInspector().inspect(buffer.getvalue(), LIMITS)
    assert report == ScanReport(Finding.readable, PNG, width=2000, height=1500)


def test_a_slot_given_up_before_its_thread_began_comes_back_once() -> None:
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    slot = scans._Slot(slots)
    slot.give_up()
    assert slot.run(inspect_now, minimal_pdf(), LIMITS) is None, "the thread does nothing for a caller who left"
    slot.give_up()
    assert slots.acquire(blocking=False) and not slots.acquire(blocking=False), "given back exactly once"
