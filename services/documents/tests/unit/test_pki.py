import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from dukcapil_documents.adapters import pki

from ..certificates import PASSPHRASE, an_office_chain, issue


def test_a_development_ca_and_signing_certificate_are_made_once_keys_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "var" / "pki"
    first = pki.development_certificate(directory)

    assert sorted(path.name for path in directory.iterdir()) == sorted(
        [pki.CA_FILE, pki.CA_KEY_FILE, pki.CERTIFICATE_FILE, pki.KEY_FILE]
    )
    for key in (pki.CA_KEY_FILE, pki.KEY_FILE):
        assert stat.S_IMODE((directory / key).stat().st_mode) == 0o600
    assert [path.name for path in (tmp_path / "var").iterdir()] == ["pki"], "no staging folder left behind"
    again = pki.development_certificate(directory)
    assert again.certificate == first.certificate and again.trust_roots == first.trust_roots

    subject = first.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak"
    )
    assert "development" in first.subject and "not for production" in first.subject
    [root] = first.trust_roots
    assert first.chain == (root,) and "Development CA" in root.subject.rfc4514_string()
    assert first.development and first.problems() == []
    assert pki.chain_to_root(first.certificate, first.chain, first.trust_roots) == [first.certificate, root]


def test_processes_starting_at_once_share_one_development_certificate(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    script = (
        "import sys; from cryptography.hazmat.primitives.serialization import Encoding;"
        "from dukcapil_documents.adapters.pki import development_certificate;"
        "print(development_certificate(sys.argv[1]).certificate.public_bytes(Encoding.PEM).hex())"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(directory)], stdout=subprocess.PIPE) for _ in range(6)
    ]
    outputs = [process.communicate(timeout=60)[0].decode() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert {output.splitlines()[-1] for output in outputs} == {(directory / pki.CERTIFICATE_FILE).read_bytes().hex()}
    assert sum("signing_certificate_generated" in output for output in outputs) == 1, "one made it, the rest read it"
    assert [path.name for path in tmp_path.iterdir()] == ["pki"]


def test_the_offices_certificate_is_read_from_pkcs12_with_its_chain(tmp_path: Path) -> None:
    chain = an_office_chain()
    office = pki.from_pkcs12(chain.pkcs12(tmp_path / "office.p12"), PASSPHRASE.encode())

    assert office.certificate == chain.office.certificate
    assert set(office.chain) == {chain.intermediate.certificate, chain.root.certificate}
    assert office.trust_roots == (chain.root.certificate,), "the chain's root, when no roots are named"
    assert not office.development and office.problems() == []


def test_the_offices_certificate_is_read_from_pem_files(tmp_path: Path) -> None:
    chain = an_office_chain()
    key, certificate, chain_file = chain.pem_files(tmp_path)
    office = pki.from_pem(key, certificate, PASSPHRASE.encode(), chain=pki.read_certificates(chain_file))
    assert office.certificate == chain.office.certificate and office.problems() == []

    plain_key, *_ = chain.pem_files(tmp_path, passphrase=None)
    assert pki.from_pem(plain_key, certificate, None).problems() == [
        "no root certificate to trust: add the issuing CA's certificates (up to its root) to the chain or name a "
        "trust roots file"
    ]


def test_a_wrong_passphrase_is_reported_without_the_passphrase(tmp_path: Path) -> None:
    path = an_office_chain().pkcs12(tmp_path / "office.p12")
    with pytest.raises(pki.CertificateError) as refused:
        pki.from_pkcs12(path, b"salah-tebak")
    assert "wrong passphrase" in str(refused.value) and "salah-tebak" not in str(refused.value)
    with pytest.raises(pki.CertificateError, match="wrong or missing passphrase"):
        key, certificate, _ = an_office_chain().pem_files(tmp_path)
        pki.from_pem(key, certificate, None)


def test_a_certificate_that_cannot_sign_verifiable_documents_says_why(tmp_path: Path) -> None:
    chain, other = an_office_chain(), an_office_chain()
    mismatched = pki.OfficeCertificate(
        key=other.office.key,
        certificate=chain.office.certificate,
        chain=(chain.intermediate.certificate,),
        trust_roots=(other.root.certificate,),
    )
    assert mismatched.problems() == [
        "the private key does not belong to the certificate",
        "the certificate does not chain to a trusted root through the certificates given",
    ]
    office = pki.from_pkcs12(chain.pkcs12(tmp_path / "office.p12"), PASSPHRASE.encode())
    [expired] = office.problems(at=datetime.now(UTC) + timedelta(days=400))
    assert expired.startswith("the certificate is valid from")


def test_certificates_are_read_from_pem_bundles_and_der(tmp_path: Path) -> None:
    root = issue("Root", ca=True)
    pem = root.certificate.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "bundle.pem").write_bytes(pem + pem)
    (tmp_path / "root.cer").write_bytes(root.certificate.public_bytes(serialization.Encoding.DER))
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n")

    assert pki.read_certificates(tmp_path / "bundle.pem") == [root.certificate, root.certificate]
    assert pki.read_certificates(tmp_path / "root.cer") == [root.certificate]
    with pytest.raises(pki.CertificateError, match=r"junk\.pem holds no readable certificate"):
        pki.read_certificates(tmp_path / "junk.pem")
    assert pki.self_signed([root.certificate]) == (root.certificate,) and not pki.is_development(root.certificate)
