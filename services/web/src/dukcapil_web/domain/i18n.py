"""The portal's words, in Bahasa Indonesia (the default) and English.

The services answer in both languages where a citizen reads the answer (error details carry `message` and
`message_id`); the catalogue's own descriptions are for developers, so the portal keeps the citizen's wording of
field names and values here, and falls back to the catalogue's text for a field or value it does not know yet.
"""

from typing import Literal

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")
DEFAULT_LANGUAGE: Language = "id"


def language_of(value: str | None) -> Language:
    return "en" if value == "en" else DEFAULT_LANGUAGE


def pick(language: Language, indonesian: str, english: str) -> str:
    return english if language == "en" else indonesian


# (Indonesian, English)
LABELS: dict[str, tuple[str, str]] = {
    # the applicant
    "nik": ("NIK", "NIK (identity number)"),
    "name": ("Nama lengkap", "Full name"),
    "birth_date": ("Tanggal lahir", "Date of birth"),
    "sex": ("Jenis kelamin", "Sex"),
    "relation": ("Hubungan dalam keluarga", "Relation in the family"),
    "married": ("Sudah/pernah kawin", "Married (now or before)"),
    # details
    "reason": ("Alasan", "Reason"),
    "kk_number": ("Nomor KK", "Family card (KK) number"),
    "members": ("Anggota keluarga", "Family members"),
    "changes": ("Perubahan data", "What changes"),
    "deceased": ("Yang meninggal", "The deceased"),
    "date_of_death": ("Tanggal meninggal", "Date of death"),
    "place_of_death": ("Tempat meninggal", "Place of death"),
    "cause_category": ("Sebab kematian", "Cause of death"),
    "reporter_relation": ("Hubungan pelapor dengan yang meninggal", "Your relation to the deceased"),
    "witnesses": ("Saksi", "Witnesses"),
    "origin": ("Alamat asal", "Address you move from"),
    "destination": ("Alamat tujuan", "Address you move to"),
    "moving_members": ("NIK anggota keluarga yang pindah", "NIKs of the family members who move"),
    "remaining_members": ("Anggota keluarga yang tetap", "Family members who stay"),
    "new_head_of_household": ("Kepala keluarga baru", "New head of household"),
    "person_nik": ("NIK yang dicetak biodatanya", "NIK of the person whose biodata is printed"),
    # addresses
    "street": ("Alamat (jalan, nomor, kampung)", "Street, number, hamlet"),
    "rt": ("RT", "RT"),
    "rw": ("RW", "RW"),
    "village_code": ("Kode desa/kelurahan", "Village code"),
    "kecamatan_code": ("Kecamatan", "Kecamatan (district)"),
    "city": ("Kabupaten/kota", "Regency or city"),
    "postal_code": ("Kode pos", "Postal code"),
    # delivery
    "method": ("Cara menerima dokumen", "How you receive the document"),
    "recipient_name": ("Nama penerima", "Recipient's name"),
    "phone": ("Nomor HP", "Mobile number"),
    "email": ("E-mail", "E-mail"),
    "pickup_kecamatan_code": ("Kantor kecamatan tempat mengambil", "Kecamatan office to collect from"),
    "preferred_date": ("Tanggal yang diinginkan", "Preferred date"),
}

HELP: dict[str, tuple[str, str]] = {
    "nik": ("16 angka, seperti tertulis di KTP-el atau KK.", "16 digits, as on the ID card or the family card."),
    "kk_number": ("16 angka di bagian atas Kartu Keluarga.", "The 16 digits at the top of the family card."),
    "birth_date": ("Harus sama dengan yang tercatat pada NIK.", "Must agree with the date encoded in the NIK."),
    "village_code": ("Boleh dikosongkan. Contoh: 36.02.14.1002", "May be left empty. Example: 36.02.14.1002"),
    "postal_code": ("5 angka.", "5 digits."),
    "phone": (
        "Kode akses dan kabar permohonan dikirim lewat SMS ke nomor ini.",
        "The access code and news of the request are sent by SMS to this number.",
    ),
    "email": ("Boleh dikosongkan.", "May be left empty."),
    "date_of_death": ("Tidak boleh di masa depan.", "Not in the future."),
    "witnesses": ("Tepat dua orang saksi.", "Exactly two witnesses."),
    "members": (
        "Isi satu baris per orang. Tambah baris bila perlu.",
        "One row per person. Add rows if you need them.",
    ),
    "remaining_members": ("Boleh dikosongkan.", "May be left empty."),
    "new_head_of_household": (
        "Wajib bila yang tersisa di KK hanya anak di bawah 17 tahun.",
        "Required when only minors would remain on the family card.",
    ),
    "person_nik": ("Kosongkan untuk biodata Anda sendiri.", "Leave empty for your own biodata."),
    "changes": ("Isi bila alasannya perubahan data: apa yang berubah.", "For a change of data: what changes."),
    "place_of_death": (
        "Misalnya rumah, nama rumah sakit, atau desa.",
        "For example home, a hospital's name, or a village.",
    ),
}

VALUES: dict[str, tuple[str, str]] = {
    # KK reasons
    "new_family": ("Keluarga baru (menikah)", "New family (marriage)"),
    "add_member": ("Tambah anggota (kelahiran, ikut KK)", "Add a member (birth, joining)"),
    "remove_member": ("Kurangi anggota (kematian, cerai, pindah)", "Remove a member (death, divorce, moving out)"),
    "split": ("Pisah KK", "Split the family card"),
    "data_change": ("Perubahan data", "Change of data"),
    "lost_or_damaged": ("KK hilang atau rusak", "Card lost or damaged"),
    # relations
    "kepala_keluarga": ("Kepala keluarga", "Head of household"),
    "suami": ("Suami", "Husband"),
    "istri": ("Istri", "Wife"),
    "anak": ("Anak", "Child"),
    "menantu": ("Menantu", "Son- or daughter-in-law"),
    "cucu": ("Cucu", "Grandchild"),
    "orang_tua": ("Orang tua", "Parent"),
    "mertua": ("Mertua", "Parent-in-law"),
    "famili_lain": ("Famili lain", "Other relative"),
    "pembantu": ("Pembantu", "Domestic worker"),
    "lainnya": ("Lainnya", "Other"),
    # causes of death
    "sakit": ("Sakit", "Illness"),
    "kecelakaan": ("Kecelakaan", "Accident"),
    # reasons to move
    "pekerjaan": ("Pekerjaan", "Work"),
    "pendidikan": ("Pendidikan", "Education"),
    "keluarga": ("Keluarga", "Family"),
    "keamanan": ("Keamanan", "Safety"),
    # sex, delivery
    "male": ("Laki-laki", "Male"),
    "female": ("Perempuan", "Female"),
    "courier": ("Dikirim kurir (JNE) ke alamat", "Sent by courier (JNE) to an address"),
    "pickup": ("Diambil di kantor kecamatan", "Collected at the kecamatan office"),
}

STATUSES: dict[str, tuple[str, str]] = {
    "submitted": ("Diterima", "Received"),
    "in_review": ("Sedang diverifikasi", "Being reviewed"),
    "info_requested": ("Perlu dilengkapi", "Information needed"),
    "approved": ("Disetujui", "Approved"),
    "rejected": ("Ditolak", "Rejected"),
    "document_issued": ("Dokumen terbit", "Document issued"),
    "shipped": ("Dalam pengiriman", "On its way"),
    "delivered": ("Sudah diterima", "Delivered"),
    "delivery_failed": ("Pengiriman gagal", "Delivery failed"),
    "ready_for_pickup": ("Siap diambil", "Ready for collection"),
    "collected": ("Sudah diambil", "Collected"),
    "cancelled": ("Dibatalkan", "Cancelled"),
}


SERVICE_DESCRIPTIONS: dict[str, str] = {
    "kartu_keluarga": "Menerbitkan atau memperbarui Kartu Keluarga: keluarga baru, tambah atau kurangi anggota, "
    "pisah KK, perubahan data, KK hilang atau rusak.",
    "akta_kematian": "Mencatat kematian. Laporkan dalam 30 hari; laporan yang terlambat tetap diterima.",
    "surat_pindah": "Pindah tempat tinggal, di dalam atau ke luar Kabupaten Lebak.",
    "biodata_wni": "Cetak biodata penduduk yang tercatat.",
}


def service_description(code: str, english: str, language: Language) -> str:
    """The catalogue describes each service in English; the portal has the Indonesian of those it knows."""
    return pick(language, SERVICE_DESCRIPTIONS.get(code, english), english)


def label(code: str, language: Language) -> str:
    if code in LABELS:
        return pick(language, *LABELS[code])
    return code.replace("_", " ").capitalize()


def help_text(code: str, language: Language) -> str | None:
    return pick(language, *HELP[code]) if code in HELP else None


def value_label(value: str, language: Language) -> str:
    if value in VALUES:
        return pick(language, *VALUES[value])
    return value.replace("_", " ").capitalize()


def status_label(status: str, language: Language) -> str:
    return pick(language, *STATUSES[status]) if status in STATUSES else status


def bilingual(text: str, language: Language) -> str:
    """The catalogue writes some texts as `Indonesian / English`: the half in the reader's language."""
    if " / " not in text:
        return text
    indonesian, english = text.split(" / ", 1)
    return pick(language, indonesian.strip(), english.strip())
