"""The portal in a real browser (Debian's chromium, driven by Playwright) on a phone-sized screen, against the whole
system started as processes (tests/e2e/system.py: the four services, the courier simulator and the portal, on a
RabbitMQ vhost of their own). Every page visited is checked with axe-core for WCAG 2.1 A and AA, and the main
screens are saved to var/screenshots/web/ for a person to look at.

Without /usr/bin/chromium these tests skip locally and fail in CI (CI=true), where a skip would hide that nothing
was checked: `apt-get install chromium` (.ci/run does).
"""

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dukcapil_shared.messaging.access import SERVICES
from tests.e2e.system import DOCUMENT_OFFICER, Client, System

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "var" / "screenshots" / "web"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

APPLICANT = {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"}
MEMBER = {"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak"}


def scan_pdf() -> bytes:
    """A one-page PDF, as docs/walkthroughs.md makes it: intake parses every scan."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return pdf + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium): the portal's browser tests need it"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must have it (.ci/run installs it)")
    pytest.skip(message)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def system(browser: Any, rabbitmq, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("portal")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env(),
        web=True,
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture
async def phone(browser: Any, system: System) -> AsyncIterator[Any]:
    """A fresh phone: its own cookies, so its own session."""
    context = await browser.new_context(base_url=system.url("web"), **PHONE)
    context.set_default_timeout(20_000)
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def check(page: Any, screenshot: str | None = None) -> None:
    """No axe-core violation of WCAG 2.1 A or AA on the page as it is now; a screenshot if named."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{page.url}:\n{results.generate_report()}"
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)


async def fill_kartu_keluarga(page: Any, birth_date: str) -> None:
    await page.fill("#f-applicant-nik", APPLICANT["nik"])
    await page.fill("#f-applicant-name", APPLICANT["name"])
    await page.fill("#f-applicant-birth_date", birth_date)
    await page.check("#f-applicant-sex-male")
    await page.select_option("#f-details-reason", "add_member")
    await page.fill("#f-details-kk_number", "3602141202100005")
    await page.fill("#f-details-members-0-nik", MEMBER["nik"])
    await page.fill("#f-details-members-0-name", MEMBER["name"])
    await page.select_option("#f-details-members-0-relation", MEMBER["relation"])
    await page.check("#f-delivery-method-pickup")
    await page.select_option("#f-delivery-pickup_kecamatan_code", "36.02.14")
    await page.fill("#f-delivery-phone", "081234567890")


async def test_a_citizen_on_a_phone_submits_a_kartu_keluarga_with_a_scan_and_follows_it(
    browser: Any, system: System, phone: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    page = phone
    await page.goto("/")
    await expect(page.locator("h1")).to_have_text("Ajukan dokumen kependudukan dari rumah")
    await check(page, "01-katalog")

    await page.get_by_role("link", name="Kartu Keluarga (KK)").click()
    await expect(page.locator("h1")).to_have_text("Kartu Keluarga (KK)")
    await check(page, "02-formulir-kk")

    # A birth date the NIK does not encode: intake's message, in Indonesian, beside the birth date.
    await fill_kartu_keluarga(page, "1985-05-13")
    await page.get_by_role("button", name="Kirim permohonan").click()
    birth_date = page.locator(".field--error", has=page.locator("#f-applicant-birth_date"))
    await expect(birth_date.locator(".error-message")).to_contain_text(
        "Tanggal lahir dalam NIK adalah 12-05-1985, bukan 13-05-1985."
    )
    await expect(page.locator("#f-applicant-birth_date")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#ringkasan-kesalahan")).to_be_focused()
    await expect(page.locator("#f-details-members-0-name")).to_have_value(MEMBER["name"])
    await check(page, "03-kesalahan-di-samping-isian")

    await page.fill("#f-applicant-birth_date", APPLICANT["birth_date"])
    await page.get_by_role("button", name="Kirim permohonan").click()
    await expect(page.locator("h1")).to_have_text("Permohonan terkirim")
    number = (await page.locator("#nomor-permohonan").inner_text()).strip()
    access_code = (await page.locator("#kode-akses").inner_text()).strip()
    assert re.fullmatch(r"360214-\d{8}-\d{4}", number)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z*~$=U]", access_code)
    assert access_code not in page.url and number not in page.url
    await check(page, "04-tanda-terima")

    # The scans, against the checklist (htmx swaps the checklist in place).
    scan = tmp_path / "kk-lama.pdf"
    scan.write_bytes(scan_pdf())
    await page.get_by_role("link", name="Unggah berkas dan lihat status").click()
    await expect(page.locator("#kemajuan-berkas")).to_contain_text("0 dari 2")
    await page.select_option("#f-kind", "kk_lama")
    await page.set_input_files("#f-file", str(scan))
    await page.get_by_role("button", name="Unggah").click()
    await expect(page.locator("#kemajuan-berkas")).to_contain_text("1 dari 2")
    await page.select_option("#f-kind", "akta_kelahiran")
    await page.set_input_files("#f-file", str(scan))
    await page.get_by_role("button", name="Unggah").click()
    await expect(page.locator("#kemajuan-berkas")).to_contain_text("2 dari 2")
    await expect(page.locator("#langkah")).to_have_text("Tunggu kabar dari kami")  # swapped out of band
    await check(page, "05-berkas-lengkap")

    # Another phone follows it by keyboard alone: number and code, posted.
    other = await browser.new_context(base_url=system.url("web"), **PHONE)
    try:
        follower = await other.new_page()
        await follower.goto("/lacak")
        await follower.keyboard.press("Tab")
        await expect(follower.locator(".skip-link")).to_be_focused()
        for _ in range(12):
            if await follower.evaluate("document.activeElement.id") == "f-number":
                break
            await follower.keyboard.press("Tab")
        await expect(follower.locator("#f-number")).to_be_focused()
        await follower.keyboard.type(number)
        await follower.keyboard.press("Tab")
        await expect(follower.locator("#f-access_code")).to_be_focused()
        await follower.keyboard.type(access_code.lower().replace("-", ""))  # any case, with or without dashes
        await check(follower, "06-lacak")
        await follower.keyboard.press("Enter")
        await expect(follower.locator("#status")).to_have_text(re.compile("Diterima|Sedang diverifikasi"))
        assert follower.url.endswith("/permohonan") and access_code not in follower.url
        await expect(follower.locator(".timeline")).to_contain_text(f"Permohonan diterima dengan nomor {number}.")
        await check(follower, "07-status")
    finally:
        await other.close()


async def test_a_wrong_access_code_is_told_beside_the_code(phone: Any) -> None:
    from playwright.async_api import expect

    await phone.goto("/lacak")
    await phone.fill("#f-number", "360214-20261128-9999")
    await phone.fill("#f-access_code", "K7QM-2XDP-9WBT-H4RZ-V")
    await phone.get_by_role("button", name="Lacak", exact=True).click()
    # The example code's check symbol is wrong: intake tells a mistyped code from a wrong one, in Indonesian.
    await expect(phone.locator("#f-access_code-error")).to_contain_text("Kode akses tidak sesuai format")
    await check(phone)


async def test_an_ektp_booking_in_english(phone: Any) -> None:
    from playwright.async_api import expect

    await phone.goto("/ktp-el")
    await expect(phone.locator("h2").first).to_have_text("Mengapa tidak bisa diurus online?")
    await check(phone, "08-ektp")
    await phone.get_by_role("link", name="English").click()
    await expect(phone.locator("html")).to_have_attribute("lang", "en")
    await expect(phone.locator("h2").first).to_have_text("Why can it not be done online?")
    await phone.fill("#k-applicant-nik", "3602144107900001")
    await phone.fill("#k-applicant-name", "Siti Aminah")
    await phone.select_option("#k-kecamatan_code", "36.02.14")
    await phone.get_by_role("button", name="Book").click()
    await expect(phone.locator("#kode-pemesanan")).to_have_text(re.compile(r"^REK-360214-\d{8}-\d{3}$"))
    await expect(phone.locator("main")).to_contain_text("Kantor Kecamatan Rangkasbitung")
    await check(phone, "09-jadwal-ektp")


async def test_the_holder_downloads_the_document_and_anyone_verifies_it(
    system: System, phone: Any, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    client = Client(system)
    try:
        request = await client.submit(
            {
                "type": "biodata_wni",
                "applicant": APPLICANT,
                "details": {},
                "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
            }
        )
        await client.approve(request["id"])
        await client.wait_event(request["id"], "document.issued.v1")
        answer = await client.call(
            "GET", "documents", "/documents", params={"request_id": request["id"]}, headers=DOCUMENT_OFFICER
        )
        assert answer.status_code == 200, answer.text
        token = httpx.URL(answer.json()[0]["verification_url"]).path.rsplit("/", 1)[1]
    finally:
        await client.close()

    await phone.goto("/lacak")
    await phone.fill("#f-number", request["number"])
    await phone.fill("#f-access_code", request["access_code"])
    await phone.get_by_role("button", name="Lacak", exact=True).click()
    await expect(phone.locator("#status")).to_have_text(re.compile("Dokumen terbit|Siap diambil"))
    async with phone.expect_download() as download_info:
        await phone.get_by_role("link", name="Unduh dokumen (PDF)").click()
    download = await download_info.value
    pdf = tmp_path / "dokumen.pdf"
    await download.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    await check(phone, "10-dokumen-terbit")

    # The QR code's page, readable by anyone: no session needed.
    await phone.context.clear_cookies()
    await phone.goto(f"/verify/{token}")
    await expect(phone.locator("#hasil")).to_have_text("Asli dan berlaku")
    await check(phone, "11-verifikasi-qr")

    await phone.goto("/verifikasi")
    await phone.set_input_files("#v-file", str(pdf))
    await phone.get_by_role("button", name="Periksa").click()
    await expect(phone.locator("#hasil")).to_have_text("Asli")
    await check(phone, "12-verifikasi-berkas")
