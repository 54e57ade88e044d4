import io
import uuid
from datetime import UTC, datetime

import pypdf

from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer
from dukcapil_documents.domain.model import Document

A4_POINTS = (595.28, 841.89)


async def test_the_real_renderer_writes_a_valid_a4_pdf_that_names_the_document_and_its_holder() -> None:
    document = Document(
        id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        request_number="360214-20261128-0007",
        type="surat_pindah",
        number="SKPWNI/3602/2026/000012",
        holder={"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
        details={
            "reason": "pekerjaan",
            "destination_address": {"street": "Jl. Sudirman 5", "city": "Kota Serang", "postal_code": "42111"},
            "moving_members": [{"nik": "3602144107900001", "name": "Siti Aminah"}],
            "note": "Ibu Siti — pindah “sementara” ke Łódź 中",
        },
        kecamatan_code="36.02.14",
        verification_token="x" * 32,
        storage_key="x.pdf",
        issued_at=datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
    )
    url = f"http://127.0.0.1:8003/verify/{document.verification_token}"

    content = await FpdfDocumentRenderer().render(document, verification_url=url)

    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    reader = pypdf.PdfReader(io.BytesIO(content), strict=True)
    first = reader.pages[0]
    assert (round(float(first.mediabox.width), 2), round(float(first.mediabox.height), 2)) == A4_POINTS
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "PEMERINTAH KABUPATEN LEBAK",
        "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL",
        "SURAT KETERANGAN PINDAH WNI",
        "SKPWNI/3602/2026/000012",
        "Siti Aminah",
        "3602144107900001",
        "360214-20261128-0007",
        str(document.request_id),
        "28 November 2026",
        "Alamat Tujuan",
        "KEPALA DINAS KEPENDUDUKAN DAN",
        url,
    ):
        assert expected in text, expected
    assert sum(len(page.images) for page in reader.pages) == 1, "the QR code"
    assert (
        reader.metadata is not None and reader.metadata.title == "SURAT KETERANGAN PINDAH WNI SKPWNI/3602/2026/000012"
    )
