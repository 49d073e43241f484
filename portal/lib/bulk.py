"""Bulk writes in as few statements as the database allows."""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

# `__in` lists are cut to this many values: under the 999 parameters of the oldest SQLite that
# Django supports, with room for the rest of the query.
IN_CHUNK = 900


@contextmanager
def full_batches(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside it, `bulk_create`/`bulk_update` on SQLite fill each statement up to the limit this
    SQLite was built with (32,766 parameters since 3.32) instead of Django 5.2's fixed 999: 1,000
    alerts of 18 columns are one INSERT, not 19. PostgreSQL has no such cap; nothing changes there."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    features = connection.features  # one per connection (and so per thread): nobody else sees this
    saved = vars(features).get("max_query_params")
    features.max_query_params = max(limit, type(features).max_query_params)
    try:
        yield
    finally:
        if saved is None:
            del features.max_query_params
        else:
            features.max_query_params = saved


def chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
