"""On PostgreSQL, history search has trigram indexes (see migration 0002)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_it_indexes_run_text_for_search_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the trigram indexes exist only on PostgreSQL; SQLite scans")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'history_run' "
            "AND indexname LIKE %s ORDER BY indexname",
            ["%trgm"],
        )
        names = [row[0] for row in cursor.fetchall()]
    assert names == ["history_run_output_text_trgm", "history_run_prompt_text_trgm"]
