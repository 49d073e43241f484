"""Hour rollups of usage events: incremental fold by id, late events, UTC hours, pruning."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.models import EventBatch, FeatureHourRollup, RollupState, UsageEvent
from analytics.rollups import LEASE, STATE_KEY, TOP_ERROR_TYPES, prune_run, rollup_run
from analytics.store import events_insert
from analytics.tasks import prune, rollup_hours
from monitoring.sketches import RELATIVE_ACCURACY, sketch_loads, sketch_quantile

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def ev(name="search", minutes_ago=0.0, **fields):
    return {"name": name, "time": (NOW - timedelta(minutes=minutes_ago)).isoformat(), **fields}


def test_events_fold_into_utc_hours_per_feature(service, other_service):
    events_insert(
        service=service,
        now=NOW,
        items=[
            ev(minutes_ago=1, duration_ms=10),
            ev(minutes_ago=29, duration_ms=30, success=False, error_type="KeyError"),
            # 11:59:59.5 UTC (and 13:59 in +02:00) belongs to the 11:00 UTC hour
            {"name": "search", "time": "2026-03-02T13:59:59.500+02:00", "duration_ms": 5},
            ev("export", minutes_ago=2),
        ],
    )
    events_insert(service=other_service, now=NOW, items=[ev(minutes_ago=1)])
    assert rollup_hours()["events"] == 5
    rows = {(r.service.slug, r.name, r.hour): r for r in FeatureHourRollup.objects.select_related("service")}
    noon, eleven = datetime(2026, 3, 2, 12, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert set(rows) == {
        ("checkout", "search", noon),
        ("checkout", "search", eleven),
        ("checkout", "export", noon),
        ("billing", "search", noon),
    }
    hour = rows[("checkout", "search", noon)]
    assert (hour.count, hour.errors, hour.duration_count, hour.duration_sum) == (2, 1, 2, 40.0)
    assert (hour.duration_min, hour.duration_max, hour.error_types) == (10.0, 30.0, {"KeyError": 1})
    assert rows[("checkout", "export", noon)].duration_count == 0
    assert rows[("checkout", "export", noon)].sketch in (b"", memoryview(b""))
    assert rollup_run(now=NOW)["events"] == 0  # nothing new: nothing changes


def test_late_events_merge_into_their_old_hour(service):
    values = np.random.default_rng(3).lognormal(3, 1, 2_000)
    first, late = values[:1_500], values[1_500:]
    events_insert(service=service, now=NOW, items=[ev(minutes_ago=10, duration_ms=float(v)) for v in first[:1000]])
    events_insert(service=service, now=NOW, items=[ev(minutes_ago=10, duration_ms=float(v)) for v in first[1000:]])
    rollup_run(now=NOW)
    # Sent an hour later, for the same hour.
    events_insert(
        service=service, now=NOW + timedelta(hours=1), items=[ev(minutes_ago=10, duration_ms=float(v)) for v in late]
    )
    assert rollup_run(now=NOW + timedelta(hours=1))["events"] == 500
    row = FeatureHourRollup.objects.get()
    assert row.count == 2_000 and row.duration_count == 2_000
    assert row.duration_sum == pytest.approx(values.sum())
    sketch = sketch_loads(bytes(row.sketch))
    for q in (0.5, 0.95, 0.99):
        exact = np.quantile(values, q, method="lower")
        assert sketch_quantile(sketch, q) == pytest.approx(exact, rel=RELATIVE_ACCURACY * 1.01)


def test_a_run_folds_in_chunks_and_a_held_lease_stops_another(service, monkeypatch):
    monkeypatch.setattr("analytics.rollups.CHUNK", 3)
    events_insert(service=service, now=NOW, items=[ev(minutes_ago=i) for i in range(7)])
    RollupState.objects.create(key=STATE_KEY, lease_until=NOW + timedelta(minutes=5))
    assert rollup_run(now=NOW) == {"events": 0, "busy": True}
    # A lease older than LEASE (a crashed run) is taken over.
    done = rollup_run(now=NOW + LEASE + timedelta(minutes=6))
    assert done["events"] == 7
    assert FeatureHourRollup.objects.get().count == 7
    assert RollupState.objects.get().lease_until is None
    assert RollupState.objects.get().folded_id == UsageEvent.objects.order_by("-id").first().id


def test_only_the_most_frequent_error_types_are_kept_per_hour(service):
    items = [ev(error_type=f"E{i}") for i in range(TOP_ERROR_TYPES + 5)] + [ev(error_type="E0")] * 3
    events_insert(service=service, now=NOW, items=items)
    rollup_run(now=NOW)
    kept = FeatureHourRollup.objects.get().error_types
    assert len(kept) == TOP_ERROR_TYPES and kept["E0"] == 4


def test_prune_deletes_old_folded_events_in_batches_and_keeps_rollups(service, settings):
    settings.ANALYTICS_EVENT_RETENTION_DAYS = 2
    settings.ANALYTICS_PRUNE_BATCH = 100
    old = NOW - timedelta(days=1, hours=23)
    events_insert(service=service, now=NOW, items=[{"name": "a", "time": old.isoformat()}] * 250)
    events_insert(service=service, now=NOW, items=[ev("b")], idempotency_key="k")
    later = NOW + timedelta(days=1, hours=1)
    # Not folded yet: kept even though old.
    assert prune_run(now=later) == {"events": 0, "idempotency_keys": 1}
    rollup_run(now=later)
    assert prune_run(now=later) == {"events": 250, "idempotency_keys": 0}
    assert list(UsageEvent.objects.values_list("name", flat=True)) == ["b"]
    assert FeatureHourRollup.objects.get(name="a").count == 250
    assert not EventBatch.objects.exists()
    assert prune() == {"events": 1, "idempotency_keys": 0}  # the task, at the real now
