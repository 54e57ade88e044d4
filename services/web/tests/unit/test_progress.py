"""What a citizen following a request is told to do next."""

from dukcapil_web.domain.progress import local_time, progress_of


def view(status: str, *history: tuple[str, str], missing: tuple[str, ...] = ()) -> dict:  # type: ignore[type-arg]
    return {
        "number": "360214-20261128-0001",
        "type": "kartu_keluarga",
        "status": status,
        "checklist": {"required": ["kk_lama", "akta_kelahiran"], "missing": list(missing)},
        "attachments": [],
        "history": [{"event_type": event, "time": "2026-11-28T07:00:00Z", "note": note} for event, note in history],
        "document": None,
    }


def test_missing_scans_come_first() -> None:
    progress = progress_of(view("submitted", missing=("akta_kelahiran",)), "id")
    assert progress.next_step is not None and progress.next_step.title == "Unggah berkas persyaratan"
    assert progress.can_upload and progress.can_cancel and not progress.can_resubmit and progress.scans_done == 1


def test_an_information_request_quotes_the_reviewer() -> None:
    progress = progress_of(
        view("info_requested", ("review.information_requested.v1", "Verifikator meminta kelengkapan: Akta.")), "en"
    )
    assert progress.can_resubmit and progress.next_step is not None
    assert "Verifikator meminta kelengkapan: Akta." in progress.next_step.text


def test_shipping_names_the_airway_bill_and_pickup_the_office() -> None:
    shipped = progress_of(
        view("shipped", ("shipment.created.v1", "Dokumen dikirim melalui JNE, nomor resi JNE0012345678.")), "id"
    )
    assert shipped.airway_bill == "JNE0012345678" and not shipped.can_cancel
    assert shipped.next_step is not None and "JNE0012345678" in shipped.next_step.text
    ready = progress_of(
        view(
            "ready_for_pickup", ("shipment.ready_for_pickup.v1", "Dokumen dapat diambil di Kantor Kecamatan Cibadak.")
        ),
        "id",
    )
    assert ready.pickup_office == "Kantor Kecamatan Cibadak"
    assert ready.next_step is not None and "Kantor Kecamatan Cibadak" in ready.next_step.text


def test_times_are_shown_on_the_offices_clock() -> None:
    assert local_time("2026-11-28T22:14:24.757976Z") == "29-11-2026 05:14 WIB"
    assert progress_of(view("delivered"), "id").timeline == []
