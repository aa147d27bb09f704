"""Trigram indexes for history search on PostgreSQL.

Django's `icontains` is `UPPER(col) LIKE UPPER('%word%')`: without an index
PostgreSQL upper-cases every run's text on each search (~110 ms p50 at 10,000
runs, bench/README.md); with these GIN indexes a search is ~8-20 ms. SQLite
needs none (its LIKE scan is ~20 ms), so nothing happens there. pg_trgm is a
trusted extension (PostgreSQL 13+): the database owner may create it; where
it cannot be created, search still works, unindexed.
"""

from django.db import migrations, transaction

COLUMNS = ["prompt_text", "output_text"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # no privilege: keep the unindexed search
        return
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS history_run_{column}_trgm "
            f"ON history_run USING gin (UPPER({column}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS history_run_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("history", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
