"""Every table of intake on one MetaData, for Alembic: each feature keeps its tables in its own adapters/tables.py
on the shared MetaData of dukcapil_intake.tables; importing them all here is what makes that MetaData whole."""

from dukcapil_intake.accounts.adapters import tables as accounts_tables
from dukcapil_intake.agencies.adapters import tables as agencies_tables
from dukcapil_intake.follow_ons.adapters import tables as follow_ons_tables
from dukcapil_intake.incidents.adapters import tables as incidents_tables
from dukcapil_intake.notifications.adapters import tables as notifications_tables
from dukcapil_intake.requests.adapters import tables as requests_tables
from dukcapil_intake.tables import metadata

FEATURE_TABLES = (
    accounts_tables,
    agencies_tables,
    follow_ons_tables,
    incidents_tables,
    notifications_tables,
    requests_tables,
)

__all__ = ["FEATURE_TABLES", "metadata"]
