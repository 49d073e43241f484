"""What /metrics shows over its lookback window: each gauge's last value, and the quantiles of
histograms and timers.

Sources as everywhere (monitoring.query): minute rollups before the watermark, raw samples after
it, the window being [floor_minute(now - lookback), now + 1 minute). The rows read grow with the
series times the lookback minutes, and the work per row is done by the database (the last value
of each gauge series) and numpy (the quantiles of every series in one pass), not by a DDSketch
per series and minute.
"""

from datetime import datetime

from django.db import connection

from monitoring.models import Metric, MetricKind, MetricSample, MinuteRollup
from monitoring.query import LabelKey
from monitoring.sketches import sketch_quantiles_grouped
from monitoring.totals import SeriesId, series_labels
from portal.models import Service


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    models = {"sample": MetricSample, "minute": MinuteRollup, "metric": Metric, "service": Service}
    return {key: quote(model._meta.db_table) for key, model in models.items()} | {
        "start": quote("start"),
        "time": quote("time"),
        "labels": "labels::text" if connection.vendor == "postgresql" else "labels",
    }


def _bounds(since: datetime, until: datetime, mark: datetime | None) -> list:
    """[since, rolled_end) from minute rollups and [raw_start, until) from raw samples."""
    rolled_end = min(until, mark) if mark else since
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(since), adapt(max(since, rolled_end)), adapt(max(since, rolled_end)), adapt(until)]


def gauge_last(*, since: datetime, until: datetime, mark: datetime | None) -> dict[str, list[tuple[LabelKey, float]]]:
    """name -> [(labels, value of the latest sample in the window)] for every gauge series that
    has one: one statement, the database picks the latest row of each series."""
    t = _tables()
    # Joined to the metric table rather than `name IN (...)`: SQLite would then seek the
    # (name, time) index once per name, several times slower than one range of the time index.
    gauges = f"JOIN {t['metric']} m ON m.name = x.name WHERE m.kind = %s"
    sql = f"""
        WITH parts AS (
            SELECT x.service_id, x.name, x.labels_hash, x.{t["labels"]} AS labels, x.{t["start"]} AS moment,
                   0 AS id, x.{connection.ops.quote_name("last")} AS value
            FROM {t["minute"]} x {gauges} AND x.{t["start"]} >= %s AND x.{t["start"]} < %s
            UNION ALL
            SELECT x.service_id, x.name, x.labels_hash, x.{t["labels"]}, x.{t["time"]}, x.id, x.value
            FROM {t["sample"]} x {gauges} AND x.{t["time"]} >= %s AND x.{t["time"]} < %s
        ),
        ranked AS (
            SELECT service_id, name, labels, value, ROW_NUMBER() OVER (
                PARTITION BY service_id, name, labels_hash ORDER BY moment DESC, id DESC
            ) AS position
            FROM parts
        )
        SELECT svc.slug, r.name, r.labels, r.value FROM ranked r JOIN {t["service"]} svc ON svc.id = r.service_id
        WHERE r.position = 1
    """  # noqa: S608 (table and column names are ours; values are parameters)
    out: dict[str, list] = {}
    with connection.cursor() as cursor:
        since, rolled_end, raw_start, until = _bounds(since, until, mark)
        cursor.execute(sql, [MetricKind.GAUGE, since, rolled_end, MetricKind.GAUGE, raw_start, until])
        for slug, name, labels, value in cursor.fetchall():
            out.setdefault(name, []).append((series_labels(slug, labels), value))
    return out


def summary_quantiles(
    *, since: datetime, until: datetime, mark: datetime | None, quantiles
) -> dict[SeriesId, list[float | None]]:
    """(service_id, name, labels_hash) -> the quantiles over the window, for every histogram and
    timer series with samples in it: one statement, then one numpy pass."""
    t = _tables()
    summaries = f"JOIN {t['metric']} m ON m.name = x.name WHERE m.kind IN (%s, %s)"
    sql = f"""
        SELECT x.service_id, x.name, x.labels_hash, x.sketch, NULL FROM {t["minute"]} x {summaries}
          AND x.{t["start"]} >= %s AND x.{t["start"]} < %s
        UNION ALL
        SELECT x.service_id, x.name, x.labels_hash, NULL, x.value FROM {t["sample"]} x {summaries}
          AND x.{t["time"]} >= %s AND x.{t["time"]} < %s
    """  # noqa: S608 (table and column names are ours; values are parameters)
    groups: dict[SeriesId, tuple[list, list]] = {}
    with connection.cursor() as cursor:
        since, rolled_end, raw_start, until = _bounds(since, until, mark)
        kinds = [MetricKind.HISTOGRAM, MetricKind.TIMER]
        cursor.execute(sql, [*kinds, since, rolled_end, *kinds, raw_start, until])
        for service_id, name, digest, sketch, value in cursor.fetchall():
            blobs, values = groups.setdefault((service_id, name, digest), ([], []))
            if sketch is not None:
                blobs.append(sketch)
            else:
                values.append(value)
    answers = sketch_quantiles_grouped(list(groups.values()), quantiles)
    return dict(zip(groups, answers, strict=True))
