"""The office's signature inside each PDF (pyHanko): PAdES baseline B-B (B-T with a timestamp authority), an
incremental update that covers the whole file and embeds the certificate chain, so that any PDF reader (or
`pdfsig`) checks the file in hand without asking this service.

Issuing is a hot path: the pyHanko signer is built once, with the key ready (pyHanko's SimpleSigner parses it
again for every signature); a document is signed in memory, with the space for the signature measured once at
start (pyHanko would otherwise sign every document twice, the first time to measure), and nothing is fetched at
signing time (no OCSP, no CRL). The pages are not touched: the signature's field has no appearance.
"""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import anyio
import structlog
from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from dukcapil_documents.adapters.pki import OfficeCertificate, chain_to_root
from dukcapil_documents.domain.model import EmbeddedSignature
from dukcapil_documents.service_layer.ports import PdfSealer

log = structlog.get_logger(__name__)

FIELD_NAME = "TandaTanganDisdukcapilLebak"
REASON = "Dokumen kependudukan yang diterbitkan secara elektronik oleh Disdukcapil Kabupaten Lebak"
LOCATION = "Rangkasbitung, Kabupaten Lebak"
DIGEST = "sha256"
SIGNATURE_MARGIN = 512
"""Bytes kept free beyond the measured signature (an ECDSA signature varies by a few bytes)."""
TIMESTAMP_ALLOWANCE = 16 * 1024
"""Bytes for a timestamp token, whose size depends on the authority (its certificates travel in it)."""


class PadesSealer(PdfSealer):
    def __init__(self, certificate: OfficeCertificate, *, timestamper: TimeStamper | None = None) -> None:
        self._certificate = certificate
        chain = [_asn1(cert) for cert in certificate.chain]
        self._roots = [_asn1(cert) for cert in certificate.trust_roots]
        self._known = [*chain, *(root for root in self._roots if root not in chain)]
        signer = _ReadySigner(certificate, chain)
        metadata = PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm=DIGEST,
            reason=REASON,
            location=LOCATION,
        )
        self._signer = PdfSigner(metadata, signer, timestamper=timestamper)
        # pyHanko's synchronous API runs an event loop of its own, which cannot nest in a running one: measure in a
        # thread of its own, as documents are signed.
        with ThreadPoolExecutor(max_workers=1) as thread:
            measured = thread.submit(_measure, PdfSigner(metadata, signer)).result()
        self._reserved = measured + (2 * TIMESTAMP_ALLOWANCE if timestamper else 0)

    @property
    def certificate(self) -> OfficeCertificate:
        return self._certificate

    async def seal(self, content: bytes) -> bytes:
        # Tens of milliseconds of pure Python: keep the event loop free meanwhile, as rendering does.
        return await anyio.to_thread.run_sync(self.seal_now, content)

    def seal_now(self, content: bytes) -> bytes:
        output = BytesIO()
        self._signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(content)), bytes_reserved=self._reserved, output=output)
        return output.getvalue()

    async def examine(self, content: bytes) -> EmbeddedSignature:
        return await anyio.to_thread.run_sync(self.examine_now, content)

    def examine_now(self, content: bytes) -> EmbeddedSignature:
        # The file is anyone's upload: pyHanko's reader and validator fail on broken input in many ways (syntax,
        # ASN.1, missing keys); each of them means there is no readable, valid signature, never a server error.
        try:
            signatures = PdfFileReader(BytesIO(content)).embedded_signatures
        except Exception as error:
            log.info("pdf_unreadable", error=type(error).__name__)
            return EmbeddedSignature()
        if not signatures:
            return EmbeddedSignature()
        signature = signatures[0]
        try:
            status = validate_pdf_signature(signature, self._validation_context(), skip_diff=True)
            by_office = self._by_office(signature.signer_cert)
        except Exception as error:
            log.info("pdf_signature_unreadable", error=type(error).__name__)
            return EmbeddedSignature(present=True)
        return EmbeddedSignature(
            present=True,
            intact=status.intact and status.valid,
            whole_file=len(signatures) == 1 and status.coverage is SignatureCoverageLevel.ENTIRE_FILE,
            trusted=status.trusted,
            by_office=by_office,
            signer=status.signing_cert.subject.human_friendly,
            signed_at=status.signer_reported_dt,
        )

    def _by_office(self, signer: asn1_x509.Certificate) -> bool:
        """The signer's certificate chains to a trusted root, checked on the certificates alone: pyHanko judges trust
        only for intact content, and an edited file should still say whose signature it broke."""
        certificate = x509.load_der_x509_certificate(signer.dump())
        known = [*self._certificate.chain, *self._certificate.trust_roots]
        return chain_to_root(certificate, known, self._certificate.trust_roots) is not None

    def _validation_context(self) -> ValidationContext:
        # Offline: the roots configured, the chain known, nothing fetched; no revocation data is embedded (B-B).
        return ValidationContext(
            trust_roots=self._roots, other_certs=self._known, allow_fetching=False, revocation_mode="soft-fail"
        )


class _ReadySigner(SimpleSigner):
    """pyHanko's in-memory signer with the key parsed once."""

    def __init__(self, certificate: OfficeCertificate, chain: Sequence[asn1_x509.Certificate]) -> None:
        pkcs8 = certificate.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        super().__init__(
            signing_cert=_asn1(certificate.certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
            cert_registry=SimpleCertificateStore.from_certs(chain),
        )
        self._key = certificate.key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)["algorithm"].native
        key = self._key
        if digest_algorithm == DIGEST and mechanism == "sha256_ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        if digest_algorithm == DIGEST and mechanism == "sha256_rsa" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if mechanism == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        return super().sign_raw(data, digest_algorithm)


def _measure(signer: PdfSigner) -> int:
    """The bytes to reserve for this signer's signatures, from one signature of a blank page (which also shows at
    start that the key signs)."""
    signed = signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(_blank_pdf()))).getvalue()
    [signature] = PdfFileReader(BytesIO(signed)).embedded_signatures
    # /Contents is padded with zeros up to the estimate; the container itself is shorter.
    container = cms.ContentInfo.load(signature.pkcs7_content).dump()
    return 2 * (len(container) + SIGNATURE_MARGIN)


def _blank_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    content = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(content))
        content += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(content)
    content += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    content += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    content += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(content)


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
