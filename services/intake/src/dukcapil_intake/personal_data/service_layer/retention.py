"""Purging what has been kept long enough, and the export of what is held about one person."""

from typing import Any

import structlog

from dukcapil_intake.personal_data.domain.retention import ENDED_STATUSES, DataKind, RetentionPolicy
from dukcapil_intake.personal_data.service_layer.unit_of_work import PersonalDataUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.files import FileStore

log = structlog.get_logger(__name__)

SCANS_PER_ROUND = 500
"""Scans deleted per transaction; a round goes on until none has expired."""


async def purge_expired(
    *, unit_of_work: Any, files: FileStore, policy: RetentionPolicy, clock: Clock = system_clock
) -> dict[DataKind, int]:
    """One round of the retention job: what each kind lost. A scan's file goes before its row, so a round that
    fails between the two finds the row again next time (and its file already gone)."""
    now = clock()
    purged = dict.fromkeys(DataKind, 0)
    while True:
        uow: PersonalDataUnitOfWork
        async with unit_of_work() as uow:
            scans = await uow.personal_data.scans_of_requests_ended_before(
                policy.kept_since(DataKind.scans, now), ENDED_STATUSES, SCANS_PER_ROUND
            )
            for scan in scans:
                await files.delete(scan.storage_key)
            purged[DataKind.scans] += await uow.personal_data.forget_scans([scan.attachment_id for scan in scans])
            await uow.commit()
        if len(scans) < SCANS_PER_ROUND:
            break
    async with unit_of_work() as uow:
        repository = uow.personal_data
        purged[DataKind.notices] = await repository.purge_notices_before(policy.kept_since(DataKind.notices, now))
        purged[DataKind.public_events] = await repository.purge_public_events_before(
            policy.kept_since(DataKind.public_events, now)
        )
        await uow.commit()
    if any(purged.values()):
        log.info("personal_data_purged", **{kind.value: count for kind, count in purged.items()})
    return purged


async def export_person(nik: str, *, unit_of_work: Any) -> dict[str, Any]:
    """Everything intake holds about the person with this NIK."""
    uow: PersonalDataUnitOfWork
    async with unit_of_work() as uow:
        return await uow.personal_data.everything_about(nik)
