"""Bulk writes in as few statements as the database allows."""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

# `__in` lists are cut to this many values: under the 999 parameters of the oldest SQLite that
# Django supports, with room for the rest of the query.
IN_CHUNK = 900
# psycopg sends at most 65,535 parameters in one statement (a 16-bit count in the protocol).
PG_MAX_PARAMS = 65_535


@contextmanager
def full_batches(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside it, `bulk_create`/`bulk_update` on SQLite fill each statement up to the limit this
    SQLite was built with (32,766 parameters since 3.32) instead of Django 5.2's fixed 999: 1,000
    alerts of 18 columns are one INSERT, not 19. PostgreSQL has no such cap; nothing changes there."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    features = connection.features  # one per connection (and so per thread): nobody else sees this
    saved = vars(features).get("max_query_params")
    features.max_query_params = max_params(connection)
    try:
        yield
    finally:
        if saved is None:
            del features.max_query_params
        else:
            features.max_query_params = saved


def max_params(connection) -> int:
    """Parameters one statement may carry on this connection."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return max(limit, type(connection.features).max_query_params)
    return connection.features.max_query_params or PG_MAX_PARAMS


def bulk_set(objs: Sequence[Model], fields: Sequence[str], using: str = DEFAULT_DB_ALIAS) -> int:
    """`QuerySet.bulk_update(objs, fields)`, as few statements as the parameter limit allows:
    `UPDATE t SET f = CASE pk WHEN %s THEN %s ... END WHERE pk IN (...)`. Django builds and
    resolves a `Case(When(pk=...))` expression for every row and field, about a millisecond a
    row (1,000 alerts resolving spent most of their second there). Returns rows updated."""
    if not objs:
        return 0
    connection = connections[using]
    opts = type(objs[0])._meta
    pk = opts.pk
    targets = [opts.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    per_row = 2 * len(targets) + 1
    size = max(1, max_params(connection) // per_row)
    updated = 0
    for chunk in chunks(objs, size):
        keys = [pk.get_db_prep_value(obj.pk, connection) for obj in chunk]
        sets, params = [], []
        for field in targets:
            case = f"CASE {quote(pk.column)} {' '.join(['WHEN %s THEN %s'] * len(chunk))} END"
            if connection.features.requires_casted_case_in_updates:  # PostgreSQL: NULL branches are text
                case = f"CAST({case} AS {field.cast_db_type(connection)})"
            sets.append(f"{quote(field.column)} = {case}")
            for key, obj in zip(keys, chunk, strict=True):
                params += [key, field.get_db_prep_save(getattr(obj, field.attname), connection)]
        where = f"{quote(pk.column)} IN ({', '.join(['%s'] * len(chunk))})"
        sql = f"UPDATE {quote(opts.db_table)} SET {', '.join(sets)} WHERE {where}"  # noqa: S608 (names are the model's; values are parameters)
        with connection.cursor() as cursor:
            cursor.execute(sql, params + keys)
            updated += cursor.rowcount
    return updated


def chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
