"""The office's signature inside each PDF (pyHanko): PAdES baseline B-B (B-T with a timestamp authority), an
incremental update that covers the whole file and embeds the certificate chain, so that any PDF reader (or
`pdfsig`) checks the file in hand without asking this service.

Issuing is a hot path: the pyHanko signer is built once, with the key ready (pyHanko's SimpleSigner parses it
again for every signature); a document is signed in memory, with the space for the signature measured once at
start (pyHanko would otherwise sign every document twice, the first time to measure), and nothing is fetched at
signing time (no OCSP, no CRL). The pages are not touched: the signature's field has no appearance.
"""

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

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
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
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
        # pyHanko's synchronous API runs an event loop of its own, which cannot nest in a running one: prepare in a
        # thread of its own, as documents are signed.
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(signer.prepare_template).result()
            measured = thread.submit(_measure, PdfSigner(metadata, signer)).result()
        self._reserved = measured + (2 * TIMESTAMP_ALLOWANCE if timestamper else 0)

    @property
    def certificate(self) -> OfficeCertificate:
        return self._certificate

    async def seal(self, content: bytes) -> bytes:
        # Milliseconds of pure Python (pyHanko reads the PDF and writes the update): keep the event loop free meanwhile,
        # as rendering does.
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
    """pyHanko's in-memory signer with the key parsed once, and its signature container made from a template.

    pyHanko assembles the CMS container (the signed attributes, the certificates, the signer info) object by object
    in asn1crypto for every signature: nine tenths of a document's signing time. For one key, certificate chain and
    attribute set, only three values ever change: the document's digest, the signing time and the signature. So
    pyHanko makes the container once, with marker values; each document's container is that template with its own
    digest and time put in place (same lengths), the signed attributes signed, and the lengths around the signature
    (the last field of every enclosing structure) encoded anew. The template is checked at start by rebuilding
    pyHanko's own container byte for byte; anything it does not cover (a timestamp, another digest) goes through
    pyHanko as usual."""

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
        self._template: _Template | None = None

    def prepare_template(self) -> None:
        """Make the container template (pyHanko's own container, with markers); without a sound one, pyHanko goes on
        making every container itself."""
        template = asyncio.run(self._pyhanko_container(_MARKER_DIGEST, _MARKER_TIME))
        self._template = _Template.of(template.dump(), lambda data: self.sign_raw(data, DIGEST))

    async def async_sign(  # type: ignore[override]
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        **rest: Any,
    ) -> cms.ContentInfo:
        signing_time = signed_attr_settings.signing_time if signed_attr_settings else None
        if (
            self._template is None
            or dry_run
            or not use_pades
            or timestamper is not None
            or rest
            or digest_algorithm != DIGEST
            or signing_time is None
            or signed_attr_settings is None
            or signed_attr_settings.cades_signed_attrs is not None
            or signed_attr_settings.adobe_revinfo_attr is not None
        ):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                **rest,
            )
        return cms.ContentInfo.load(self._template.container(data_digest, signing_time))

    async def _pyhanko_container(self, digest: bytes, signing_time: datetime) -> cms.ContentInfo:
        return await super().async_sign(
            digest, DIGEST, use_pades=True, signed_attr_settings=PdfCMSSignedAttributes(signing_time=signing_time)
        )

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


_MARKER_DIGEST = bytes.fromhex("5a17c0de" * 8)
_MARKER_TIME = datetime(2031, 7, 13, 13, 31, 13, tzinfo=UTC)


@dataclass(frozen=True)
class _Template:
    """A CMS SignedData container cut where its three variable values sit (see _ReadySigner)."""

    tags: tuple[bytes, ...]
    """The tags of the structures enclosing the signature, outermost first: ContentInfo, [0], SignedData, the set
    of signer infos, the signer info."""
    before: tuple[bytes, ...]
    """Each structure's content up to the next one (the signer info's: up to its signature)."""
    attributes: tuple[int, int]
    """Where the signed attributes are in the signer info's content: start and end."""
    digest_at: int
    time_at: int | None
    """Where the digest and the signing time are in the signed attributes (PAdES puts no signing time there: the
    signature dictionary's /M says it)."""
    sign: Callable[[bytes], bytes]

    @classmethod
    def of(cls, container: bytes, sign: Callable[[bytes], bytes]) -> "_Template | None":
        try:
            template = cls._cut(container, sign)
        except (ValueError, KeyError, IndexError) as error:
            log.warning("signature_template_unusable", error=str(error))
            return None
        signer_info = cms.ContentInfo.load(container)["content"]["signer_infos"][0]
        if template._assemble(template.before[-1], signer_info["signature"].native) != container:
            log.warning("signature_template_unusable", error="the template does not rebuild pyHanko's container")
            return None
        return template

    @classmethod
    def _cut(cls, container: bytes, sign: Callable[[bytes], bytes]) -> "_Template":
        # ContentInfo { contentType, [0] { SignedData { ..., signerInfos { SignerInfo { ..., signature } } } } }: in
        # each structure on the way to the signature, the next one is the last field.
        tags, before, at, content_start = [], [], 0, 0
        for _ in range(5):
            _, content_start, content_end = _tlv(container, at)
            if content_end != len(container):
                raise ValueError("a structure does not end with the signature")
            last = list(_children(container, content_start, content_end))[-1]
            tags.append(container[at : at + 1])
            before.append(container[content_start:last])
            at = last
        # Now `content_start` is where the signer info's fields start, and `at` its signature.
        if container[at] != 0x04:
            raise ValueError("the signer info does not end with its signature")
        [attributes] = [child for child in _children(container, content_start, at) if container[child] == 0xA0]
        signed = container[attributes : _tlv(container, attributes)[2]]
        offset = attributes - content_start
        return cls(
            tags=tuple(tags),
            before=tuple(before),
            attributes=(offset, offset + len(signed)),
            digest_at=_unique(signed, _MARKER_DIGEST),
            time_at=_unique(signed, _MARKER_TIME.strftime("%y%m%d%H%M%SZ").encode(), optional=True),
            sign=sign,
        )

    def container(self, digest: bytes, signing_time: datetime) -> bytes:
        start, end = self.attributes
        signer_info = bytearray(self.before[-1])
        attributes = signer_info[start:end]
        attributes[self.digest_at : self.digest_at + len(digest)] = digest
        if self.time_at is not None:
            attributes[self.time_at : self.time_at + 13] = (
                signing_time.astimezone(UTC).strftime("%y%m%d%H%M%SZ").encode()
            )
        signer_info[start:end] = attributes
        # What is signed is the attributes' DER as a SET OF (RFC 5652, 5.4), not their [0] IMPLICIT tag.
        return self._assemble(bytes(signer_info), self.sign(b"\x31" + bytes(attributes[1:])))

    def _assemble(self, signer_info: bytes, signature: bytes) -> bytes:
        inner = b"\x04" + _length(len(signature)) + signature
        for tag, before in reversed(list(zip(self.tags, (*self.before[:-1], signer_info), strict=True))):
            inner = tag + _length(len(before) + len(inner)) + before + inner
        return inner


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """The DER element at `at`: where its header starts, its content starts and its content ends."""
    first = data[at + 1]
    if first < 0x80:
        return at, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
    return at, at + 2 + count, at + 2 + count + length


def _children(data: bytes, start: int, end: int) -> Iterator[int]:
    while start < end:
        yield start
        start = _tlv(data, start)[2]


def _length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _unique(data: bytes, marker: bytes, *, optional: bool = False) -> int | None:
    at = data.find(marker)
    if at < 0 and optional:
        return None
    if at < 0 or data.find(marker, at + 1) >= 0:
        raise ValueError("a marker value is not found exactly once in the signed attributes")
    return at


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
