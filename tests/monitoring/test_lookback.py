"""/metrics over its lookback window: gauges' last values, and summary quantiles of every series
merged in one numpy pass (equal to merging each series' sketches)."""

from datetime import timedelta

import numpy as np
import pytest
from ddsketch import DDSketch
from django.utils import timezone

from monitoring.ingest import metric_kinds, samples_write
from monitoring.lookback import gauge_last, summary_quantiles
from monitoring.rollups import rollup_run
from monitoring.sketches import (
    sketch_dumps,
    sketch_from_values,
    sketch_merge_all,
    sketch_new,
    sketch_quantile,
    sketch_quantiles_grouped,
)
from tests.monitoring.conftest import T0, row

MINUTE = timedelta(minutes=1)
QS = (0.5, 0.95, 0.99, 0.0, 1.0)


def _values(rng, kind: int, size: int) -> list[float]:
    if kind == 0:
        return rng.lognormal(-2, 1, size).tolist()
    if kind == 1:
        return rng.normal(0, 5, size).tolist()  # both signs
    if kind == 2:
        return [0.0] * size
    return (-rng.lognormal(0, 2, size)).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_grouped_quantiles_equal_merging_each_group(seed):
    rng = np.random.default_rng(seed)
    groups, expected = [], []
    for _ in range(150):
        sketches = [
            sketch_from_values(_values(rng, int(rng.integers(0, 4)), int(rng.integers(0, 150))))
            for _ in range(int(rng.integers(0, 6)))
        ]
        raw = _values(rng, int(rng.integers(0, 4)), int(rng.integers(0, 12))) if rng.random() < 0.6 else []
        groups.append(([sketch_dumps(s) for s in sketches], raw))
        merged = sketch_merge_all([*sketches, sketch_from_values(raw)]) if sketches or raw else sketch_new()
        expected.append([sketch_quantile(merged, q) for q in QS])
    found = sketch_quantiles_grouped(groups, QS)
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        if want[0] is None:  # an empty group
            assert got == want
        else:
            assert got == pytest.approx(want, rel=1e-12)
    assert any(w[0] is None for w in expected) and any(w[0] is not None and w[0] < 0 for w in expected)


def test_grouped_quantiles_of_nothing():
    assert sketch_quantiles_grouped([], QS) == []
    assert sketch_quantiles_grouped([([], [])], (0.5,)) == [[None]]
    assert sketch_quantiles_grouped([([sketch_dumps(sketch_new())], [])], (0.5,)) == [[None]]


@pytest.mark.django_db
def test_a_gauge_shows_its_latest_sample_across_the_rollup_boundary(service, other_service):
    metric_kinds({"depth": "gauge", "lat": "histogram"})
    rows = [row(service, "depth", i, T0 + i * MINUTE + timedelta(seconds=s), q="a") for i in range(8) for s in (10, 40)]
    rows += [row(other_service, "depth", 100 + i, T0 + i * MINUTE, q="a") for i in range(3)]
    rows += [row(service, "lat", 5, T0)]
    samples_write(rows)
    rollup_run(now=T0 + 7 * MINUTE)  # rolls [00:00, 00:05): the rest is raw
    mark = T0 + 5 * MINUTE
    found = gauge_last(since=T0, until=T0 + 20 * MINUTE, mark=mark)
    assert set(found) == {"depth"}
    assert dict(found["depth"]) == {
        (("q", "a"), ("service", "checkout")): 7.0,  # raw, after the watermark
        (("q", "a"), ("service", "billing")): 102.0,  # from a minute rollup's last value
    }
    # two samples in one raw second: the later written wins, as in a rollup's `last`
    samples_write([row(service, "depth", 1, T0 + 9 * MINUTE, q="b"), row(service, "depth", 2, T0 + 9 * MINUTE, q="b")])
    found = gauge_last(since=T0 + 6 * MINUTE, until=T0 + 20 * MINUTE, mark=mark)
    assert dict(found["depth"])[(("q", "b"), ("service", "checkout"))] == 2.0
    assert (("q", "a"), ("service", "billing")) not in dict(found["depth"])  # nothing in its window


@pytest.mark.django_db
def test_summary_quantiles_merge_rollups_before_the_watermark_and_raw_after(service):
    metric_kinds({"lat": "histogram", "depth": "gauge"})
    values = [(i % 50) / 100 for i in range(300)]
    samples_write([row(service, "lat", v, T0 + timedelta(seconds=2 * i)) for i, v in enumerate(values)])
    samples_write([row(service, "depth", 1, T0)])
    rollup_run(now=T0 + 8 * MINUTE)  # [00:00, 00:06) rolled, [00:06, 00:10) raw
    found = summary_quantiles(since=T0, until=T0 + 20 * MINUTE, mark=T0 + 6 * MINUTE, quantiles=(0.5, 0.99))
    (key,) = found
    assert key[1] == "lat"
    merged = sketch_from_values(values)
    assert found[key] == pytest.approx([sketch_quantile(merged, 0.5), sketch_quantile(merged, 0.99)])


@pytest.mark.django_db
def test_a_scrape_builds_no_sketch_per_series_or_minute(client, service, monkeypatch):
    metric_kinds({"lat": "histogram"})
    now = timezone.now()
    samples_write([row(service, "lat", i % 7, now - timedelta(seconds=i), route=f"/r{i % 40}") for i in range(400)])
    rollup_run(now=now)
    built = []
    real = DDSketch.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(DDSketch, "__init__", counting)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content.count(b'quantile="0.99"') == 40  # every series has its quantiles...
    assert built == []  # ...from one numpy pass, with no DDSketch per series or minute
