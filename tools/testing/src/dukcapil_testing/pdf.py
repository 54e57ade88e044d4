"""Scans for tests: small, valid PDFs."""


def minimal_pdf(pages: int = 1, *, size: int | None = None) -> bytes:
    """A small, valid PDF of blank A4 pages, made with the standard library: what a test uploads as a scan (intake
    parses every PDF, so a body that only starts with `%PDF-` is refused). With `size`, a comment pads it to exactly
    that many bytes."""
    content = _pdf(pages, 0)
    if size is not None and size != len(content):
        padding = max(size - len(content), 2)
        content = _pdf(pages, padding)
        content = _pdf(pages, padding + size - len(content))
        if len(content) != size:
            raise ValueError(f"no PDF of {pages} pages has exactly {size} bytes")
    return content


def _pdf(pages: int, padding: int) -> bytes:
    kids = " ".join(f"{3 + index} 0 R" for index in range(pages))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
        *["<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages,
    ]
    content = b"%PDF-1.4\n" + (b"%" + b"0" * (padding - 2) + b"\n" if padding else b"")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(content))
        content += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(content)
    content += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    content += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    content += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return content
