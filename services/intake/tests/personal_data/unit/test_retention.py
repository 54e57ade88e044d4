"""How long each kind of personal data is kept, and from when."""

from datetime import UTC, datetime, timedelta

import pytest

from dukcapil_intake.personal_data.domain.retention import (
    DEFAULT_RETENTION_DAYS,
    DataKind,
    InvalidRetention,
    RetentionPolicy,
)

NOW = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def test_every_kind_has_a_default_and_the_settings_replace_only_the_kinds_they_name() -> None:
    assert set(DEFAULT_RETENTION_DAYS) == set(DataKind)
    policy = RetentionPolicy.of({"scans": 30})
    assert policy.kept_since(DataKind.scans, NOW) == NOW - timedelta(days=30)
    assert policy.kept_since(DataKind.notices, NOW) == NOW - timedelta(days=DEFAULT_RETENTION_DAYS[DataKind.notices])


def test_the_access_log_outlives_the_data_it_audits() -> None:
    from dukcapil_shared.settings import ServiceSettings

    access_log_days = ServiceSettings.model_fields["access_log_days"].default
    assert access_log_days > max(RetentionPolicy.of({}).days.values())


@pytest.mark.parametrize(("overrides", "says"), [({"scan": 30}, "no such kind"), ({"notices": 0}, "a day at least")])
def test_a_period_that_means_nothing_or_deletes_at_once_is_refused_at_start(overrides, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRetention, match=says):
        RetentionPolicy.of(overrides)
