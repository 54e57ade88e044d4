import hashlib
import io
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pades import FIELD_NAME, PadesSealer
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer
from dukcapil_documents.adapters.pki import OfficeCertificate, development_certificate, from_pkcs12

from ..certificates import PASSPHRASE, an_office_chain, issue
from ..fakes import FakeDocumentsUnitOfWork, a_press
from .test_handlers import DEATH, approval, deliver
from .test_http import Service
from .test_pdf import CASES, SIGNATORY, a_document, url_of


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> OfficeCertificate:
    return development_certificate(tmp_path_factory.mktemp("var") / "pki")


@pytest.fixture(scope="module")
def sealer(certificate: OfficeCertificate) -> PadesSealer:
    return PadesSealer(certificate)


@pytest.fixture(scope="module")
def rendered() -> bytes:
    holder, details, _ = CASES["akta_kematian"]
    document = a_document("akta_kematian", holder, details)
    return FpdfDocumentRenderer(layouts=load_layouts(), signatory=SIGNATORY).render_now(document, url_of(document))


@pytest.fixture(scope="module")
def signed(sealer: PadesSealer, rendered: bytes) -> bytes:
    return sealer.seal_now(rendered)


def needs(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} ({package}) is needed; .ci/run installs it")
        pytest.skip(f"{tool} ({package}) is needed")


def pyhanko_status(content: bytes, roots: list[x509.Certificate], **options: Any) -> Any:
    [signature] = PdfFileReader(io.BytesIO(content)).embedded_signatures
    context = ValidationContext(trust_roots=[_asn1(root) for root in roots], allow_fetching=False)
    return validate_pdf_signature(signature, context, **options)


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def edited_in_an_incremental_update(content: bytes) -> bytes:
    """What an editor does to a signed PDF: append a revision that writes "PALSU" (forged) over the first page."""
    writer = IncrementalPdfFileWriter(io.BytesIO(content))
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/Palsu"): font})}
    )
    stamp = writer.add_object(generic.StreamObject(stream_data=b"BT /Palsu 40 Tf 200 400 Td (PALSU) Tj ET"))
    writer.add_stream_to_page(0, stamp, resources=resources)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_a_sealed_document_validates_with_pyhanko_over_the_whole_file_with_its_chain(
    certificate: OfficeCertificate, sealer: PadesSealer, rendered: bytes, signed: bytes
) -> None:
    assert signed.startswith(rendered), "an incremental update: the rendered file is kept byte for byte"
    status = pyhanko_status(signed, list(certificate.trust_roots))
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    [embedded] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert embedded.field_name == FIELD_NAME and embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    carried = {x509.load_der_x509_certificate(cert.chosen.dump()) for cert in embedded.signed_data["certificates"]}
    assert carried == {certificate.certificate, *certificate.trust_roots}, "the chain travels in the file"

    found = sealer.examine_now(signed)
    assert found.valid and found.by_office
    assert found.signer is not None and "Disdukcapil Lebak Document Signing (development)" in found.signer
    assert found.signed_at is not None


def test_pdfsig_reports_the_signature_valid(signed: bytes, tmp_path: Path) -> None:
    needs("pdfsig", "poppler-utils")
    (tmp_path / "signed.pdf").write_bytes(signed)
    report = subprocess.run(["pdfsig", tmp_path / "signed.pdf"], capture_output=True, text=True).stdout
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report and "Signature Type: ETSI.CAdES.detached" in report
    # The development CA is in nobody's trust store: poppler says "Certificate issuer isn't Trusted."; a document
    # signed with the office's BSrE certificate is trusted where BSrE's root is.
    assert "Certificate Validation:" in report


def test_the_pages_look_exactly_as_before_signing(rendered: bytes, signed: bytes, tmp_path: Path) -> None:
    needs("pdftoppm", "poppler-utils")
    pictures = {}
    for name, content in (("rendered", rendered), ("signed", signed)):
        (tmp_path / f"{name}.pdf").write_bytes(content)
        subprocess.run(["pdftoppm", "-png", "-r", "100", tmp_path / f"{name}.pdf", tmp_path / name], check=True)
        pictures[name] = [path.read_bytes() for path in sorted(tmp_path.glob(f"{name}-*.png"))]
    assert pictures["signed"] == pictures["rendered"] and pictures["signed"]
    texts = [
        [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages] for content in (rendered, signed)
    ]
    assert texts[0] == texts[1]


def test_bytes_changed_inside_the_page_content_break_the_signature(
    certificate: OfficeCertificate, sealer: PadesSealer, signed: bytes
) -> None:
    reader = PdfFileReader(io.BytesIO(signed))
    contents = reader.root["/Pages"]["/Kids"][0].raw_get("/Contents")
    start = signed.index(b"stream", signed.index(b"\n%d 0 obj" % contents.idnum)) + len(b"stream\n")
    edited = bytearray(signed)
    edited[start + 20] ^= 0x01

    status = pyhanko_status(bytes(edited), list(certificate.trust_roots))
    assert not status.intact and not status.bottom_line
    found = sealer.examine_now(bytes(edited))
    assert found.present and not found.intact and not found.valid and found.by_office


def test_an_incremental_update_that_changes_the_text_is_not_covered(
    certificate: OfficeCertificate, sealer: PadesSealer, signed: bytes, tmp_path: Path
) -> None:
    edited = edited_in_an_incremental_update(signed)
    assert "PALSU" in pypdf.PdfReader(io.BytesIO(edited)).pages[0].extract_text()

    status = pyhanko_status(edited, list(certificate.trust_roots))
    assert status.intact and status.coverage is not SignatureCoverageLevel.ENTIRE_FILE and not status.bottom_line
    found = sealer.examine_now(edited)
    assert found.intact and found.trusted and not found.whole_file and not found.valid
    if shutil.which("pdfsig"):
        (tmp_path / "edited.pdf").write_bytes(edited)
        report = subprocess.run(["pdfsig", tmp_path / "edited.pdf"], capture_output=True, text=True).stdout
        assert "Not total document signed" in report


def test_a_file_signed_under_another_ca_is_not_trusted(sealer: PadesSealer, rendered: bytes, tmp_path: Path) -> None:
    stranger = PadesSealer(development_certificate(tmp_path / "other-pki"))
    found = sealer.examine_now(stranger.seal_now(rendered))
    assert found.present and found.intact and not found.trusted and not found.by_office and not found.valid


@pytest.mark.parametrize(
    "content", [b"", b"GIF89a", b"%PDF-1.7\n", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF", b"\0" * 4096]
)
def test_what_is_not_a_readable_pdf_has_no_signature(sealer: PadesSealer, content: bytes, rendered: bytes) -> None:
    assert sealer.examine_now(content) == sealer.examine_now(rendered)
    assert not sealer.examine_now(content).present


def test_the_offices_rsa_certificate_from_pkcs12_signs_with_a_timestamp_when_one_is_configured(
    rendered: bytes, tmp_path: Path
) -> None:
    chain = an_office_chain()
    office = from_pkcs12(chain.pkcs12(tmp_path / "office.p12"), PASSPHRASE.encode())
    tsa = issue("Timestamp authority (test)", issuer=chain.root)
    tsa_certificate = (
        x509.CertificateBuilder(
            issuer_name=tsa.certificate.issuer,
            subject_name=tsa.certificate.subject,
            public_key=tsa.certificate.public_key(),
            serial_number=tsa.certificate.serial_number,
            not_valid_before=tsa.certificate.not_valid_before_utc,
            not_valid_after=tsa.certificate.not_valid_after_utc,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(chain.root.key, tsa.certificate.signature_hash_algorithm)
    )
    timestamper = DummyTimeStamper(
        tsa_cert=_asn1(tsa_certificate),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            tsa.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )

    plain, stamped = PadesSealer(office), PadesSealer(office, timestamper=timestamper)
    for sealer in (plain, stamped):
        signed = sealer.seal_now(rendered)
        assert sealer.examine_now(signed).valid
        status = pyhanko_status(signed, [chain.root.certificate])
        assert status.bottom_line and status.signing_cert.subject.native["common_name"].startswith("Kepala Dinas")
    assert pyhanko_status(stamped.seal_now(rendered), [chain.root.certificate]).timestamp_validity is not None
    assert pyhanko_status(plain.seal_now(rendered), [chain.root.certificate]).timestamp_validity is None


async def test_sealing_and_examining_run_off_the_event_loop(sealer: PadesSealer, rendered: bytes) -> None:
    signed = await sealer.seal(rendered)
    assert (await sealer.examine(signed)).valid


async def test_post_verify_tells_the_issued_file_from_its_edited_copies(sealer: PadesSealer) -> None:
    uow = FakeDocumentsUnitOfWork()
    press = a_press(renderer=FpdfDocumentRenderer(layouts=load_layouts(), signatory=SIGNATORY), sealer=sealer)
    await deliver(uow, approval("akta_kematian", details=DEATH), press)
    [document] = uow.issued
    service = Service(uow, press, document)
    issued = service.files[document.storage_key]

    async def check(content: bytes) -> dict[str, Any]:
        response = await service.client.post("/verify", files={"file": ("dokumen.pdf", content, "application/pdf")})
        assert response.status_code == 200, response.text
        return response.json()

    async with service.client:
        genuine = await check(issued)
        edited = await check(edited_in_an_incremental_update(issued))
        flipped = await check(issued.replace(b"/Title (", b"/Title (X", 1))
    assert (genuine["genuine"], genuine["document_number"], genuine["signature"]["covers_whole_file"]) == (
        True, document.number, True,
    )  # fmt: skip
    assert "Disdukcapil Lebak Document Signing" in genuine["signature"]["signer"]
    assert (edited["genuine"], edited["reason"], edited["signature"]["covers_whole_file"]) == (
        False, "signature_invalid", False,
    )  # fmt: skip
    assert (flipped["genuine"], flipped["reason"], flipped["signature"]["intact"]) == (
        False,
        "signature_invalid",
        False,
    )
    assert "changed after Disdukcapil Kabupaten Lebak signed it" in edited["message"]


async def test_the_signature_container_from_the_template_is_pyhankos_byte_for_byte(tmp_path: Path) -> None:
    """RSA PKCS#1 v1.5 signatures are deterministic: the container made from the template for a digest must be the
    one pyHanko makes for it, whatever the digest and time."""
    chain = an_office_chain()
    signer = PadesSealer(from_pkcs12(chain.pkcs12(tmp_path / "office.p12"), PASSPHRASE.encode()))._signer.signer
    for digest in (bytes(32), bytes(range(32)), hashlib.sha256(b"dokumen").digest()):
        at = datetime.now(UTC)
        made = await signer.async_sign(
            digest, "sha256", use_pades=True, signed_attr_settings=PdfCMSSignedAttributes(signing_time=at)
        )
        assert made.dump() == (await signer._pyhanko_container(digest, at)).dump()
