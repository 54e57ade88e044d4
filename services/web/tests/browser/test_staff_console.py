"""The staff console in a real browser (Debian's chromium, Playwright) on a desk-sized screen, against the whole
system as processes, beside a citizen on a phone: every page visited is checked with axe-core for WCAG 2.1 A and
AA, and the main screens are saved to var/screenshots/web/ (a few of them are docs/screenshots/ in the README).

The accounts are made the way an admin makes them (intake's POST /accounts); the console signs in with them like
a person would. Nothing waits a fixed time: the tests wait for a status, an event or an element.
"""

import copy
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from dukcapil_shared.auth.roles import Role
from dukcapil_testing import staff_headers
from tests.e2e.requests import KARTU_KELUARGA
from tests.e2e.system import Client, System, holder

from .test_portal import PHONE, ROOT, browser, check, scan_pdf, system  # noqa: F401 (the module's fixtures)

pytestmark = pytest.mark.e2e

DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "id-ID"}
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "kopi-tubruk-pagi-hari"
ADMIN = staff_headers(Role.ADMIN, username="admin.uji", reason=None)


def scan_png(text: str) -> bytes:
    """A small scan as a phone photographs it: a PNG intake decodes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 471, 311), outline="black", width=3)
    draw.text((24, 24), text, fill="black")
    for row in range(6):
        draw.line((24, 80 + row * 30, 440, 80 + row * 30), fill="gray", width=2)
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


async def readme_screenshot(page: Any, name: str, height: int) -> None:
    """With README_SCREENSHOTS=1, the top of the page, small (3/4 size, 256 colours), for the README."""
    if os.environ.get("README_SCREENSHOTS") != "1":
        return
    from PIL import Image

    shot = Image.open(io.BytesIO(await page.screenshot(full_page=True))).convert("RGB")
    shot = shot.crop((0, 0, shot.width, min(height, shot.height)))
    shot = shot.resize((shot.width * 3 // 4, shot.height * 3 // 4), Image.Resampling.LANCZOS)
    shot = shot.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    shot.save(README_SCREENSHOTS / f"{name}.png", optimize=True)


async def make_account(client: Client, username: str, role: str, kecamatan: str | None = None) -> None:
    body: dict[str, Any] = {"username": username, "full_name": username.title(), "role": role, "password": PASSWORD}
    if kecamatan:
        body["kecamatan_code"] = kecamatan
    answer = await client.call("POST", "intake", "/accounts", json=body, headers=ADMIN)
    assert answer.status_code in (201, 409), answer.text


async def desk(browser: Any, system: System) -> Any:  # noqa: F811
    context = await browser.new_context(base_url=system.url("web"), **DESK)
    context.set_default_timeout(20_000)
    return await context.new_page()


async def sign_in(page: Any, username: str, screenshot: str | None = None) -> None:
    from playwright.async_api import expect

    await page.goto("/staff")
    await expect(page.locator("h1")).to_have_text("Masuk sebagai petugas")
    if screenshot:
        await check(page, screenshot)
    await page.fill("#s-username", username)
    await page.fill("#s-password", PASSWORD)
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.locator("#petugas")).to_contain_text(username)


async def give_reason(page: Any, reason: str, screenshot: str | None = None) -> None:
    from playwright.async_api import expect

    await expect(page.locator("h1")).to_have_text("Alasan akses data pribadi")
    if screenshot:
        await check(page, screenshot)
    await page.fill("#s-alasan", reason)
    await page.keyboard.press("Enter")


async def tab_to(page: Any, element_id: str, presses: int = 60) -> None:
    """Keyboard only: Tab until the element has the focus."""
    from playwright.async_api import expect

    for _ in range(presses):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            break
        await page.keyboard.press("Tab")
    await expect(page.locator(f"#{element_id}")).to_be_focused()


async def test_a_reviewer_asks_for_a_scan_the_citizen_sends_it_and_follows_the_document_to_delivery(
    browser: Any,  # noqa: F811
    system: System,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    client = Client(system)
    try:
        await make_account(client, "rina.verifikator", "reviewer")
        request = await client.submit(copy.deepcopy(KARTU_KELUARGA))
        answer = await client.call(
            "POST",
            "intake",
            f"/requests/{request['id']}/attachments",
            headers=holder(request),
            data={"kind": "kk_lama"},
            files={"file": ("kk-lama.png", scan_png("KARTU KELUARGA LAMA 3602141202100005"), "image/png")},
        )
        assert answer.status_code == 201, answer.text
        await client.wait_review(request["id"])

        # The reviewer signs in, gives the reason once, and takes the next request by keyboard alone.
        reviewer = await desk(browser, system)
        await sign_in(reviewer, "rina.verifikator", "staff-01-masuk")
        await check(reviewer)
        await reviewer.locator("main").get_by_role("link", name="Antrean verifikasi").click()
        await give_reason(reviewer, "verifikasi antrean harian", "staff-02-alasan")
        await expect(reviewer.locator("#antrean")).to_contain_text(request["number"])
        await check(reviewer, "staff-03-antrean")
        await tab_to(reviewer, "ambil-berikutnya")
        await reviewer.keyboard.press("Enter")
        await expect(reviewer.locator("#diambil-oleh")).to_have_text("rina.verifikator")
        assert request["access_code"] not in reviewer.url

        # The scan beside the data, shown inline through the portal.
        scan = reviewer.locator(".review-scans img")
        await expect(scan).to_have_count(1)
        await expect(scan).to_have_js_property("complete", True)
        assert await scan.evaluate("image => image.naturalWidth") > 0  # it came through the portal and its policy
        await expect(reviewer.locator(".review-data")).to_contain_text(KARTU_KELUARGA["applicant"]["name"])
        await check(reviewer, "staff-04-verifikasi")

        # The service's error beside its field, then the information request with the missing scan.
        await reviewer.fill("#s-request-information-reason", "abc")
        await reviewer.get_by_role("button", name="Kirim permintaan").click()
        await expect(reviewer.locator("#s-request-information-reason-error")).to_contain_text("5")
        await expect(reviewer.locator("#s-request-information-reason")).to_have_attribute("aria-invalid", "true")
        await check(reviewer, "staff-05-kesalahan-di-samping-isian")
        # By keyboard alone again: the reason, the missing scan's checkbox, the button.
        await tab_to(reviewer, "s-request-information-reason")
        await reviewer.keyboard.press("Control+A")
        await reviewer.keyboard.type("Akta kelahiran anak belum diunggah.")
        await tab_to(reviewer, "s-missing-akta_kelahiran")
        await reviewer.keyboard.press("Space")
        await expect(reviewer.locator("#s-missing-akta_kelahiran")).to_be_checked()
        await tab_to(reviewer, "minta-kelengkapan")
        await reviewer.keyboard.press("Enter")
        await expect(reviewer.locator("[role=status]")).to_have_text("Permintaan kelengkapan dikirim ke pemohon.")
        await client.wait_status(request["id"], "info_requested")

        # The citizen uploads the missing scan and sends the request back.
        phone_context = await browser.new_context(base_url=system.url("web"), **PHONE)
        phone_context.set_default_timeout(20_000)
        phone = await phone_context.new_page()
        await phone.goto("/lacak")
        await phone.fill("#f-number", request["number"])
        await phone.fill("#f-access_code", request["access_code"])
        await phone.get_by_role("button", name="Lacak", exact=True).click()
        await expect(phone.locator("#status")).to_have_text("Perlu dilengkapi")
        await expect(phone.locator("main")).to_contain_text("Akta kelahiran anak belum diunggah.")
        pdf = tmp_path / "akta-kelahiran.pdf"
        pdf.write_bytes(scan_pdf())
        await phone.select_option("#f-kind", "akta_kelahiran")
        await phone.set_input_files("#f-file", str(pdf))
        await phone.get_by_role("button", name="Unggah").click()
        await expect(phone.locator("#kemajuan-berkas")).to_contain_text("2 dari 2")
        await phone.get_by_role("button", name="Kirim ulang").click()
        await expect(phone.locator("#status")).to_have_text(re.compile("Diterima|Sedang diverifikasi"))
        await check(phone)
        await client.wait_review(request["id"], "pending")

        # Back in the queue: the reviewer takes it again, sees both scans (the PDF framed), and approves.
        await reviewer.goto("/staff/antrean")
        await reviewer.get_by_role("button", name="Ambil permohonan berikutnya").click()
        await expect(reviewer.locator("#diambil-oleh")).to_have_text("rina.verifikator")
        frame = reviewer.locator(".review-scans iframe")
        await expect(frame).to_have_count(1)
        framed = await reviewer.request.get(await frame.get_attribute("src"))
        assert framed.status == 200 and framed.headers["content-type"] == "application/pdf"
        assert (await framed.body()).startswith(b"%PDF")
        await check(reviewer, "staff-06-dua-berkas")
        await readme_screenshot(reviewer, "staff-review", 1480)
        await reviewer.get_by_role("button", name="Setujui").click()
        await expect(reviewer.locator("[role=status]")).to_have_text("Permohonan disetujui.")
        await check(reviewer)

        # The courier simulator delivers; the citizen sees it and downloads the document.
        await client.wait_status(request["id"], "delivered", timeout=120)
        await phone.reload()
        await expect(phone.locator("#status")).to_have_text("Sudah diterima")
        async with phone.expect_download() as download_info:
            await phone.get_by_role("link", name="Unduh dokumen (PDF)").click()
        download = await download_info.value
        saved = tmp_path / "dokumen.pdf"
        await download.save_as(str(saved))
        assert saved.read_bytes().startswith(b"%PDF")
        await check(phone, "staff-07-warga-dokumen-diterima")
        await phone_context.close()

        # Signing out ends the session at intake: the console asks for a sign-in again.
        await reviewer.get_by_role("button", name="Keluar").click()
        await expect(reviewer.locator("h1")).to_have_text("Masuk sebagai petugas")
        await reviewer.goto("/staff/antrean")
        await expect(reviewer.locator("h1")).to_have_text("Masuk sebagai petugas")
        await reviewer.context.close()
    finally:
        await client.close()


async def test_an_operator_submits_for_a_walk_in_citizen_and_hands_the_document_over_checking_the_nik(
    browser: Any,  # noqa: F811
    system: System,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    client = Client(system)
    try:
        await make_account(client, "siti.loket", "kecamatan_operator", kecamatan="36.02.14")
        operator = await desk(browser, system)
        await sign_in(operator, "siti.loket")
        await operator.locator("nav").get_by_role("link", name="Loket kecamatan").click()
        await give_reason(operator, "pelayanan loket kecamatan")
        await expect(operator.locator("h1")).to_contain_text("Loket kecamatan")
        await check(operator)

        # A walk-in citizen: the biodata form, with intake's error beside the field first.
        await operator.get_by_role("link", name="Biodata Penduduk WNI").click()
        await operator.fill("#f-applicant-nik", "3602144107900001")
        await operator.fill("#f-applicant-name", "Siti Aminah")
        await operator.fill("#f-applicant-birth_date", "1990-07-02")
        await operator.check("#f-applicant-sex-female")
        await operator.check("#f-delivery-method-pickup")
        await expect(operator.locator("#f-delivery-pickup_kecamatan_code")).to_have_value("36.02.14")
        await operator.get_by_role("button", name="Kirim permohonan").click()
        birth_date = operator.locator(".field--error", has=operator.locator("#f-applicant-birth_date"))
        await expect(birth_date.locator(".error-message")).to_contain_text("01-07-1990")
        await check(operator, "staff-08-loket-kesalahan")
        await operator.fill("#f-applicant-birth_date", "1990-07-01")
        await operator.get_by_role("button", name="Kirim permohonan").click()
        await expect(operator.locator("h1")).to_have_text("Permohonan terkirim")
        number = (await operator.locator("#nomor-permohonan").inner_text()).strip()
        assert re.fullmatch(r"360214-\d{8}-\d{4}", number)
        scan = tmp_path / "pengantar.png"
        scan.write_bytes(scan_png("SURAT PENGANTAR RT 002 / RW 005"))
        await operator.set_input_files("#o-file", str(scan))
        await operator.get_by_role("button", name="Unggah").click()
        await expect(operator.locator("[role=status]")).to_have_text("Berkas diterima.")
        await check(operator, "staff-09-loket-tanda-terima")
        await operator.get_by_role("link", name="Kembali ke loket").click()
        await expect(operator.locator("#permohonan")).to_contain_text(number)
        await expect(operator.locator("#permohonan")).to_contain_text("siti.loket")
        await check(operator, "staff-09b-loket-permohonan")

        # The citizen's code leaked: renewed at the counter once their identity is checked, shown once.
        row = operator.locator("#permohonan tr", has_text=number)
        await row.get_by_label(re.compile("Identitas sudah diperiksa")).check()
        await row.get_by_role("button", name=re.compile("Buat kode baru")).click()
        await expect(operator.locator("#kode-akses-baru")).to_have_text(re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-."))
        assert "kode" not in operator.url.split("/staff/loket", 1)[1]
        await check(operator)

        # Approved and issued, it waits at the office; the collector's NIK is checked at the handover.
        found = await client.call(
            "GET",
            "intake",
            "/requests",
            params={"type": "biodata_wni", "kecamatan": "36.02.14"},
            headers=staff_headers(Role.SUPERVISOR),
        )
        request_id = next(item["id"] for item in found.json() if item["number"] == number)
        await client.approve(request_id)
        await client.wait_status(request_id, "ready_for_pickup", timeout=120)
        await operator.locator("nav").get_by_role("link", name="Serah terima").click()
        section = operator.locator("section.handover", has=operator.get_by_role("heading", name=number))
        await section.get_by_label("Nama pengambil").fill("Siti Aminah")
        await section.get_by_label("NIK pengambil (16 angka)").fill("3602144107900000")
        await section.get_by_role("button", name="Serahkan dokumen").click()
        section = operator.locator("section.handover", has=operator.get_by_role("heading", name=number))
        nik = section.get_by_label("NIK pengambil (16 angka)")
        await expect(nik).to_have_attribute("aria-invalid", "true")
        await expect(section.locator(".error-message")).to_contain_text("NIK")
        assert "3602144107900000" not in operator.url
        await check(operator, "staff-10-serah-terima-nik-salah")
        await readme_screenshot(operator, "staff-handover", 760)
        await nik.fill("3602144107900001")
        await section.get_by_role("button", name="Serahkan dokumen").click()
        await expect(operator.locator("[role=status]")).to_have_text("Dokumen diserahkan kepada Siti Aminah.")
        await client.wait_status(request_id, "collected")
        await check(operator)
        await operator.context.close()
    finally:
        await client.close()


async def park_a_malformed_event(client: Client, system: System) -> dict[str, Any]:  # noqa: F811
    """A body that is no event, on the events exchange: documents parks it at once (as the chaos tests do)."""
    import asyncio
    import time
    import uuid

    import aio_pika

    message_id = str(uuid.uuid4())
    connection = await aio_pika.connect_robust(system.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("dukcapil.events", ensure=True)
        await exchange.publish(
            aio_pika.Message(
                b'{"specversion": "1.0", "type": "request.approved.v1", "data": {',
                message_id=message_id,
                content_type="application/cloudevents+json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="request.approved.v1",
        )
    finally:
        await connection.close()
    deadline = time.monotonic() + 45
    while True:
        answer = await client.call("GET", "documents", "/dead-letters", headers=ADMIN)
        found = [letter for letter in answer.json() if letter["message_id"] == message_id]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"documents never parked {message_id}: {answer.text}"
        await asyncio.sleep(0.3)


async def test_a_supervisor_reads_the_figures_and_replays_a_dead_letter_from_the_console(
    browser: Any,  # noqa: F811
    system: System,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    client = Client(system)
    try:
        await make_account(client, "sari.supervisor", "supervisor")
        letter = await park_a_malformed_event(client, system)

        supervisor = await desk(browser, system)
        await sign_in(supervisor, "sari.supervisor")
        await supervisor.locator("nav").get_by_role("link", name="Statistik").click()
        await expect(supervisor.locator("h1")).to_have_text("Statistik layanan")
        await expect(supervisor.locator("svg.chart").first).to_be_visible()
        await check(supervisor, "staff-11-statistik")
        await readme_screenshot(supervisor, "staff-statistics", 1200)
        await supervisor.locator("nav").get_by_role("link", name="Insiden").click()
        await expect(supervisor.locator("#insiden")).to_be_visible()
        await check(supervisor)
        # Dead letters are a supervisor's work too (the operations scope).
        await supervisor.locator("nav").get_by_role("link", name="Pesan gagal").click()
        parked = supervisor.locator("article.letter", has=supervisor.locator(f"#dl-{letter['id']}"))
        await expect(parked).to_contain_text("request.approved.v1")
        await check(supervisor, "staff-12-pesan-gagal")
        await parked.get_by_role("button", name="Buang").click()  # without a reason: told beside the reason
        parked = supervisor.locator("article.letter", has=supervisor.locator(f"#dl-{letter['id']}"))
        await expect(parked.get_by_label("Alasan membuang")).to_have_attribute("aria-invalid", "true")
        await check(supervisor)
        await parked.get_by_label("Catatan (boleh dikosongkan)").fill("perbaikan sudah dipasang")
        await parked.get_by_role("button", name="Kirim ulang").click()
        await expect(supervisor.locator("[role=status]")).to_have_text("Pesan dikirim ulang ke antreannya.")
        await check(supervisor)
        replayed = await client.call("GET", "documents", "/dead-letters", params={"status": "replayed"}, headers=ADMIN)
        mine = next(item for item in replayed.json() if item["id"] == letter["id"])
        assert mine["resolved_by"] == "sari.supervisor" and mine["resolution_reason"] == "perbaikan sudah dipasang"
        await supervisor.context.close()
    finally:
        await client.close()


async def test_a_document_officer_finds_a_document_by_its_request_number_and_revokes_it_and_an_admin_makes_an_account(
    browser: Any,  # noqa: F811
    system: System,  # noqa: F811
) -> None:
    from playwright.async_api import expect

    from tests.e2e.requests import BIODATA_WNI

    client = Client(system)
    try:
        await make_account(client, "dewi.dokumen", "document_officer")
        await make_account(client, "ani.admin", "admin")
        request = await client.submit(copy.deepcopy(BIODATA_WNI))
        await client.approve(request["id"])
        await client.wait_event(request["id"], "document.issued.v1")

        officer = await desk(browser, system)
        await sign_in(officer, "dewi.dokumen")
        await officer.locator("nav").get_by_role("link", name="Dokumen").click()
        await give_reason(officer, "pencabutan atas keputusan kepala dinas")
        await officer.fill("#d-cari", request["number"])
        await officer.get_by_role("button", name="Cari").click()
        document = officer.locator("article.document")
        await expect(document.locator(".document-status")).to_have_text("valid")
        await check(officer, "staff-13-dokumen")
        await officer.fill("#s-revoke-reason", "abc")
        await officer.fill("#s-revoke-approved_by", "Kepala Dinas")
        await officer.get_by_role("button", name="Cabut").click()
        await expect(officer.locator("#s-revoke-reason-error")).to_contain_text("5")
        await check(officer)
        await officer.fill("#s-revoke-reason", "Diterbitkan atas data yang keliru.")
        await officer.get_by_role("button", name="Cabut").click()
        await expect(officer.locator("[role=status]")).to_have_text("Dokumen dicabut.")
        await expect(officer.locator("article.document .document-status")).to_have_text("revoked")
        await check(officer)
        await officer.context.close()

        admin = await desk(browser, system)
        await sign_in(admin, "ani.admin")
        await admin.locator("nav").get_by_role("link", name="Akun staf").click()
        await expect(admin.locator("#akun")).to_contain_text("dewi.dokumen")
        await admin.fill("#s-username", "budi.verifikator")
        await admin.fill("#s-full_name", "Budi Santoso")
        await admin.select_option("#s-role", "reviewer")
        await admin.fill("#s-password", "pendek")
        await admin.get_by_role("button", name="Buat akun").click()
        await expect(admin.locator("#s-password")).to_have_attribute("aria-invalid", "true")
        await expect(admin.locator("#s-username")).to_have_value("budi.verifikator")
        await check(admin, "staff-14-akun")
        await admin.fill("#s-password", "kopi-tubruk-sore-hari")
        await admin.get_by_role("button", name="Buat akun").click()
        await expect(admin.locator("[role=status]")).to_have_text("Akun budi.verifikator dibuat.")
        await expect(admin.locator("#akun")).to_contain_text("Budi Santoso")
        await check(admin)
        await admin.context.close()
    finally:
        await client.close()


async def test_an_admin_onboards_an_agency_replays_its_events_and_offboards_it_from_the_console(
    browser: Any,  # noqa: F811
    system: System,  # noqa: F811
) -> None:
    import uuid
    from datetime import datetime, timedelta, timezone

    import aio_pika
    from playwright.async_api import expect

    client = Client(system)
    agency = f"bps-{uuid.uuid4().hex[:6]}"  # broker users are cluster-wide: a name of this test's own
    connection = None
    try:
        await make_account(client, "rina.admin", "admin")
        request = await client.submit(copy.deepcopy(KARTU_KELUARGA))
        await client.approve(request["id"])
        await client.wait_event(request["id"], "document.issued.v1")

        admin = await desk(browser, system)
        await sign_in(admin, "rina.admin")
        await admin.locator("nav").get_by_role("link", name="Instansi pelanggan").click()
        await expect(admin.locator("h1")).to_have_text("Instansi pelanggan")
        await admin.fill("#s-name", agency)
        await admin.get_by_label("family_card.issued.v1", exact=False).check()
        await admin.get_by_role("button", name="Daftarkan", exact=True).click()
        await expect(admin.locator("#s-region_prefixes-error")).to_contain_text("wilayah")
        await expect(admin.locator("#s-name")).to_have_value(agency)
        await check(admin, "staff-15-instansi")
        await admin.get_by_label("Seluruh Kabupaten Lebak", exact=False).check()
        await admin.get_by_role("button", name="Daftarkan", exact=True).click()
        await expect(admin.locator("h1")).to_contain_text(f"Instansi didaftarkan: {agency}")
        await check(admin, "staff-16-instansi-sambungan")
        amqp_url = await admin.locator("#sambungan dd").first.inner_text()
        connection = await aio_pika.connect(amqp_url.strip())  # the agency connects with what it was handed

        await admin.get_by_role("link", name="Kembali ke daftar instansi").click()
        await expect(admin.locator("#instansi")).to_contain_text(agency)
        # The Kartu Keluarga was issued before the agency existed: a replay from this morning brings it.
        morning = datetime.now(timezone(timedelta(hours=7))) - timedelta(hours=1)
        await admin.fill(f"#s-{agency}-since", morning.strftime("%Y-%m-%dT%H:%M"))
        await admin.get_by_role("button", name=f"Kirim ulang {agency}").click()
        # Other tests' family cards of the last hour come too (the system is the module's): as many as announced.
        notice = admin.locator("[role=status]")
        await expect(notice).to_have_text(re.compile(rf"^[1-9]\d* peristiwa dikirim ulang ke {agency}\.$"))
        replayed = int((await notice.inner_text()).split()[0])
        channel = await connection.channel()
        queue = await channel.get_queue(f"agency.{agency}.events", ensure=True)
        for _ in range(replayed):
            message = await queue.get(timeout=20)
            assert message.correlation_id.startswith("KK/3602/"), "a family card's document number"
            assert (message.type or "").startswith("family_card.issued.v1.36.02.")
            await message.ack()
        assert await queue.get(fail=False) is None, "no more than the replay announced"

        await admin.fill(f"#s-{agency}-confirm", "bukan-namanya")
        await admin.get_by_role("button", name=f"Lepas {agency}").click()
        await expect(admin.locator(f"#s-{agency}-confirm-error")).to_contain_text(agency)
        await check(admin)
        await admin.fill(f"#s-{agency}-confirm", agency)
        await admin.get_by_role("button", name=f"Lepas {agency}").click()
        await expect(admin.locator("[role=status]")).to_contain_text(f"Instansi {agency} dilepas")
        await expect(admin.locator("#instansi")).not_to_contain_text(agency)
        await admin.context.close()
    finally:
        if connection is not None and not connection.is_closed:
            await connection.close()
        await client.call("DELETE", "intake", f"/agencies/{agency}", headers=ADMIN)  # if the test stopped midway
        await client.close()
