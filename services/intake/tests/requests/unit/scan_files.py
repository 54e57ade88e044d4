"""Files made in the test, to upload or inspect: genuine small images and PDFs, and hostile ones."""

import io
import struct
import zlib

from PIL import Image
from pypdf import PdfWriter

from dukcapil_testing import minimal_pdf


def image(format: str, size: tuple[int, int] = (40, 30)) -> bytes:
    """A genuine PNG or JPEG of `size` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format=format)
    return buffer.getvalue()


def png_claiming(width: int, height: int, zeros: int = 1_000_000) -> bytes:
    """A small PNG whose header (with a valid CRC) claims `width`×`height` 8-bit grey pixels, followed by `zeros`
    zero bytes compressed (a megabyte to about a kilobyte): a decompression bomb's first bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * zeros, 9))
        + chunk(b"IEND", b"")
    )


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(minimal_pdf()))
    writer.encrypt(user_password="", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
