"""PDF generation on one core: the documents service's own renderer and signers, in one process pinned to one
CPU, rendering, sealing (the PAdES signature inside the PDF, with the development certificate) and signing
documents of each type in turn (what `issue_document` does apart from the database and the file write). With
`--profile-seconds`, a second, shorter pass runs under pyinstrument and its text report is written next to the
figures.

    python -m bench.pdf --seconds 10 --out bench/results/x
"""

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.citizens import Citizens
from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pades import PadesSealer
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer, Signatory
from dukcapil_documents.adapters.pki import development_certificate
from dukcapil_documents.adapters.signing import Ed25519Signer
from dukcapil_documents.domain.model import Document, new_verification_token, verification_url
from dukcapil_shared.contracts import Person
from dukcapil_shared.contracts.details import typed_details

CODES = {"kartu_keluarga": "KK", "akta_kematian": "AKM", "surat_pindah": "SKPWNI", "biodata_wni": "BIO"}
BASE_URL = "https://dukcapil.lebakkab.go.id"


def documents(count: int) -> list[Document]:
    """Documents as issued for the benchmark's own requests (the same bodies the load generator submits)."""
    citizens = Citizens(courier_share=0.0, serial_start=140_000)
    made = []
    for sequence in range(1, count + 1):
        body = citizens.next_body()
        made.append(
            Document(
                id=uuid.uuid4(),
                request_id=uuid.uuid4(),
                request_number=f"360214-20261128-{sequence:04d}",
                type=body["type"],
                number=f"{CODES[body['type']]}/3602/2026/{sequence:06d}",
                holder=Person.model_validate(body["applicant"]),
                details=typed_details(body["details"], body["type"]),
                kecamatan_code="36.02.14",
                verification_token=new_verification_token(),
                storage_key="x.pdf",
                issued_at=datetime.now(UTC),
            )
        )
    return made


def press(pki_dir: Path) -> tuple[FpdfDocumentRenderer, PadesSealer, Ed25519Signer]:
    renderer = FpdfDocumentRenderer(
        layouts=load_layouts(), signatory=Signatory(name="Drs. H. Contoh Pejabat, M.Si.", nip="197001011990011001")
    )
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return renderer, PadesSealer(development_certificate(pki_dir)), Ed25519Signer.from_pem(pem)


def issue(renderer: FpdfDocumentRenderer, sealer: PadesSealer, signer: Ed25519Signer, document: Document) -> int:
    document.signing_key_id = signer.key_id
    rendered = renderer.render_now(document, verification_url(BASE_URL, document.verification_token))
    content = sealer.seal_now(rendered)
    document.seal(content)
    document.signature = signer.sign(document.signed_payload())
    return len(content)


def measure(seconds: float, pki_dir: Path) -> dict[str, Any]:
    renderer, sealer, signer = press(pki_dir)
    pool = cycle(documents(8))
    issue(renderer, sealer, signer, next(pool))  # fonts and layouts loaded before the clock starts
    per_type: dict[str, list[float]] = {}
    sizes = []
    cpu_start, started = time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        document = next(pool)
        before = time.perf_counter()
        sizes.append(issue(renderer, sealer, signer, document))
        per_type.setdefault(document.type, []).append(time.perf_counter() - before)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_start
    count = sum(len(times) for times in per_type.values())
    return {
        "documents": count,
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "documents_per_s": round(count / elapsed, 2),
        # Wall-clock rate when the process had its core to itself: the host steals CPU.
        "documents_per_cpu_s": round(count / cpu, 2) if cpu else None,
        "mean_ms_by_type": {kind: round(1000 * sum(t) / len(t), 1) for kind, t in per_type.items()},
        "mean_pdf_kb": round(sum(sizes) / len(sizes) / 1024, 1),
    }


def profile(seconds: float, pki_dir: Path, out: Path) -> None:
    from pyinstrument import Profiler

    renderer, sealer, signer = press(pki_dir)
    pool = cycle(documents(8))
    issue(renderer, sealer, signer, next(pool))
    profiler = Profiler(interval=0.001)
    started = time.perf_counter()
    with profiler:
        while time.perf_counter() - started < seconds:
            issue(renderer, sealer, signer, next(pool))
    tree = profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total")
    flat = profiler.output_text(unicode=True, color=False, flat=True, time="percent_of_total")
    flat_top = "\n".join(flat.splitlines()[:40])
    out.write_text(f"Top functions by own time:\n{flat_top}\n\nCall tree:\n{tree}")


def main() -> None:
    parser = argparse.ArgumentParser(description="PDF documents per second on one core")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--profile-seconds", type=float, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last one)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    core = args.cpu if args.cpu is not None else cores[-1]
    os.sched_setaffinity(0, {core})
    args.out.mkdir(parents=True, exist_ok=True)
    pki_dir = args.out / "pki"  # the development certificate, made on the first run
    result = measure(args.seconds, pki_dir) | {"core": core}
    if args.profile_seconds > 0:
        profile(args.profile_seconds, pki_dir, args.out / "profile-pdf.txt")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
