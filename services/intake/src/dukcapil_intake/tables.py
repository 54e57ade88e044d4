"""Intake's MetaData, which every feature's adapters/tables.py adds its tables to (dukcapil_intake.schema gathers
them for Alembic), and the tables of the chassis: the outbox, the inbox, the dead letters, the access log and the
ended sessions, which dukcapil_shared's runtime uses."""

from sqlalchemy import MetaData

from dukcapil_shared.auth.access import add_access_log_table
from dukcapil_shared.auth.sessions import add_ended_sessions_table
from dukcapil_shared.messaging import add_dead_letter_table, add_messaging_tables

metadata = MetaData()

outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)
access_log = add_access_log_table(metadata)
ended_sessions = add_ended_sessions_table(metadata)
