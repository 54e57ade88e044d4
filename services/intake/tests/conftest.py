from pathlib import Path

import pytest

from dukcapil_shared.db import create_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    """Intake's database, migrated, on SQLite and on PostgreSQL."""
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db" if request.param == "sqlite" else await postgres.create()
    engine = create_engine(url)
    await migrate(engine, "dukcapil_intake:migrations")
    yield engine
    await engine.dispose()
