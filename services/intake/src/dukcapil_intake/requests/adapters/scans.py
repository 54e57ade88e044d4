"""Scans decoded for what they are: images with Pillow, PDFs with pypdf.

An image's size is read from its header first (PNG's IHDR, JPEG's SOF), so an image over the pixel limit is refused
before anything is decompressed; what passes is checked (`verify`) and decoded whole (`load`), so that a file which
only starts like an image is caught. Pillow's own decompression-bomb check (Image.MAX_IMAGE_PIXELS) stays on
behind that. A PDF must parse, be unencrypted and have between one and the page limit of pages, each with a page
box. Decoding is CPU work: it runs in worker threads, a few at a time, within a time limit.
"""

import io
import logging
import struct
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from PIL import Image
from pypdf import PdfReader

from dukcapil_intake.requests.domain.scans import JPEG, PDF, PNG, Finding, ScanLimits, ScanReport, claimed_type
from dukcapil_intake.requests.service_layer.scans import ScanInspector

_PIL_FORMATS = {PNG: "PNG", JPEG: "JPEG"}
# Start-of-frame markers carry a JPEG's size; C4 (Huffman tables), C8 (reserved) and CC (arithmetic coding) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SLOT_POLL = 0.02


class DecodingScanInspector(ScanInspector):
    def __init__(self, *, concurrency: int = 2, timeout: float = 30.0) -> None:
        # A slot is given back by the thread that decoded, when it is done: a decoding abandoned at its time limit
        # still holds one, so files that are slow on purpose cannot pile up threads.
        self._slots = threading.BoundedSemaphore(concurrency)
        self._timeout = timeout
        # pypdf logs a warning for each flaw of a damaged file: the refusal says it once.
        logging.getLogger("pypdf").setLevel(logging.ERROR)

    async def inspect(self, content: bytes, limits: ScanLimits) -> ScanReport:
        # Polled: the slot comes back from a worker thread, maybe one the event loop has stopped waiting for.
        while not self._slots.acquire(blocking=False):  # noqa: ASYNC110
            await anyio.sleep(_SLOT_POLL)
        slot = _Slot(self._slots)
        try:
            with anyio.fail_after(self._timeout):
                report = await anyio.to_thread.run_sync(slot.run, inspect_now, content, limits, abandon_on_cancel=True)
        except TimeoutError:
            return ScanReport(Finding.too_slow, claimed_type(content[:16]))
        finally:
            slot.give_up()
        assert report is not None
        return report


class _Slot:
    """One decoding's place: the worker thread gives it back when it is done, or, when the caller gave up before
    the thread began (a cancelled request), the caller does, and the thread then does nothing."""

    def __init__(self, slots: threading.BoundedSemaphore) -> None:
        self._slots = slots
        self._lock = threading.Lock()
        self._started = self._given_up = False

    def run(self, work: Callable[[bytes, ScanLimits], ScanReport], *args: Any) -> ScanReport | None:
        with self._lock:
            if self._given_up:
                return None
            self._started = True
        try:
            return work(*args)
        finally:
            self._slots.release()

    def give_up(self) -> None:
        with self._lock:
            if not self._started and not self._given_up:
                self._given_up = True
                self._slots.release()


def inspect_now(content: bytes, limits: ScanLimits) -> ScanReport:
    """The inspection itself, in the calling thread."""
    claimed = claimed_type(content[:16])
    if claimed is None:
        return ScanReport(Finding.not_a_scan)
    if claimed == PDF:
        return _pdf(content, limits)
    return _image(content, claimed, limits)


def _image(content: bytes, content_type: str, limits: ScanLimits) -> ScanReport:
    size = _png_size(content) if content_type == PNG else _jpeg_size(content)
    if size is None:
        return ScanReport(Finding.unreadable, content_type)
    width, height = size
    if width * height > limits.max_pixels:
        return ScanReport(Finding.too_many_pixels, content_type, width=width, height=height)
    formats = [_PIL_FORMATS[content_type]]
    try:
        with Image.open(io.BytesIO(content), formats=formats) as image:
            if image.size != (width, height):
                return ScanReport(Finding.unreadable, content_type)
            image.verify()
        with Image.open(io.BytesIO(content), formats=formats) as image:
            image.load()
    except Image.DecompressionBombError:
        return ScanReport(Finding.too_many_pixels, content_type, width=width, height=height)
    except Exception:  # whatever Pillow raises on a damaged or false image, it is not a readable one
        return ScanReport(Finding.unreadable, content_type)
    return ScanReport(Finding.readable, content_type, width=width, height=height)


def _png_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from the IHDR chunk, which a PNG must begin with."""
    if len(content) < 24 or content[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", content[16:24])
    return (width, height) if width and height else None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from the first start-of-frame segment, walking the segments after SOI."""
    position = 2
    while position + 4 <= len(content):
        if content[position] != 0xFF:
            return None
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # segments without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", content[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            if position + 9 > len(content):
                return None
            height, width = struct.unpack(">HH", content[position + 5 : position + 9])
            return (width, height) if width and height else None
        if marker in (0xD9, 0xDA) or length < 2:  # end of image, or scan data before any frame
            return None
        position += 2 + length
    return None


def _pdf(content: bytes, limits: ScanLimits) -> ScanReport:
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return ScanReport(Finding.encrypted, PDF)
        pages = len(reader.pages)
        if pages > limits.max_pages:
            return ScanReport(Finding.too_many_pages, PDF, pages=pages)
        if pages == 0 or any(page.mediabox.width <= 0 or page.mediabox.height <= 0 for page in reader.pages):
            return ScanReport(Finding.unreadable, PDF, pages=pages)
    except Exception:  # whatever pypdf raises on a damaged or false PDF, it is not a readable one
        return ScanReport(Finding.unreadable, PDF)
    return ScanReport(Finding.readable, PDF, pages=pages)
