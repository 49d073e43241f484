"""Writing a week of made-up history fast: rollup rows for many periods of one series at once,
and plain `executemany` inserts (Django's bulk_create prepares every field of every row in
Python, which cost more than everything else the demo does).

`rollup_groups` gives, for consecutive slices of one series' values, what the rollup job
computes for each slice (monitoring.rollups): count, sum, min, max, last and the serialized
sketch, equal to `sketch_dumps(sketch_from_values(values))` — tests/portal/test_demo_bulk.py
holds it to that. It reads the sketch format from monitoring.sketches rather than restating it.
"""

from datetime import UTC

import numpy as np
from django.db import connection

from monitoring.sketches import _HEADER, _VERSION, MIN_POSITIVE, sketch_keys


def rollup_groups(values: np.ndarray, edges) -> list[tuple | None]:
    """(count, sum, min, max, last, sketch bytes) of values[edges[i]:edges[i+1]] for each i;
    None for an empty slice. Values must not be negative (counts, durations, queue depths).

    Vectorised over the slices: one np.unique for all of them, reductions with reduceat."""
    edges = np.asarray(edges, dtype=np.int64)
    values = values[: edges[-1]]
    if len(values) and float(values.min()) < 0:
        raise ValueError("rollup_groups handles non-negative values only")
    out: list[tuple | None] = [None] * (len(edges) - 1)
    lows, highs = edges[:-1], edges[1:]
    filled = np.flatnonzero(highs > lows)
    if not len(filled):
        return out
    positive = values > MIN_POSITIVE
    group = np.searchsorted(edges, np.arange(len(values)), side="right") - 1
    keys = sketch_keys(values[positive])
    found_keys = found_counts = np.zeros(0)
    bounds = np.zeros(len(edges), dtype=np.int64)
    if len(keys):
        base = int(keys.min())
        span = int(keys.max()) - base + 1
        found, found_counts = np.unique(group[positive] * span + (keys - base), return_counts=True)
        found_keys = found % span + base
        bounds = np.searchsorted(found // span, np.arange(len(edges)))
    starts = lows[filled]
    sums = np.add.reduceat(values, starts)
    mins, maxes = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    sizes = highs[filled] - starts
    zeros = sizes - np.add.reduceat(positive.astype(np.int64), starts)
    lasts = values[highs[filled] - 1]
    for i, index in enumerate(filled.tolist()):
        low, high = bounds[index], bounds[index + 1]
        header = _HEADER.pack(
            _VERSION, float(zeros[i]), float(sizes[i]), float(sums[i]), float(mins[i]), float(maxes[i]), high - low, 0
        )
        sketch = b"".join(
            [header, found_keys[low:high].astype("<i4").tobytes(), found_counts[low:high].astype("<f8").tobytes()]
        )
        out[index] = (int(sizes[i]), float(sums[i]), float(mins[i]), float(maxes[i]), float(lasts[i]), sketch)
    return out


def rows_insert(model, fields: tuple[str, ...], rows: list[tuple]) -> int:
    """INSERT rows of plain values (datetimes aware, JSON already adapted with `json_value`).
    Table and column names come from the model, never from input."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    dates = [i for i, name in enumerate(fields) if model._meta.get_field(name).get_internal_type() == "DateTimeField"]
    if dates:
        adapt = _sqlite_time if connection.vendor == "sqlite" else connection.ops.adapt_datetimefield_value
        rows = [tuple(adapt(v) if i in dates else v for i, v in enumerate(row)) for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])
    return len(rows)


def _sqlite_time(moment):
    """What adapt_datetimefield_value stores on SQLite (naive UTC text), at a third of its cost."""
    return moment.astimezone(UTC).isoformat(" ")[:-6]


def json_value(value):
    """A JSONField value as the database driver takes it (text on SQLite, jsonb on PostgreSQL)."""
    return connection.ops.adapt_json_value(value, None)
