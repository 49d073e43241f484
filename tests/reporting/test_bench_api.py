"""The benchmarks API: who may read and upload, bad bodies naming the field, query filters."""

import numpy as np
import pytest

from reporting.benchmarks.models import Benchmark, BenchmarkRun

RUNS = "/api/v1/benchmarks/runs/"


def body(centre=100.0, seed=0, commit="c1", branch="main"):
    samples = (centre * np.random.default_rng(seed).lognormal(0, 0.03, 30)).tolist()
    return {
        "commit": commit,
        "branch": branch,
        "benchmarks": [{"name": "render", "group": "pages", "unit": "ms", "samples": samples}],
    }


@pytest.mark.parametrize("url", ["/api/v1/benchmarks/", RUNS])
@pytest.mark.parametrize(
    ("actor", "code"),
    [("anonymous", 401), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200), ("other_key", 403)],
)
def test_who_may_read(api_client, url, actor, code):
    assert api_client(actor).get(url).status_code == code


@pytest.mark.parametrize(
    ("actor", "code"),
    [("anonymous", 401), ("norole", 403), ("viewer", 403), ("operator", 403), ("admin", 201), ("other_key", 201)],
)
def test_who_may_upload(api_client, actor, code):
    response = api_client(actor).post(RUNS, body(), format="json")
    assert response.status_code == code, response.content
    assert BenchmarkRun.objects.count() == (1 if code == 201 else 0)


def test_upload_compares_with_the_branch_and_answers_the_verdict(key_client, api_client):
    for seed in range(2):
        assert key_client.post(RUNS, body(seed=seed), format="json").status_code == 201
    response = key_client.post(RUNS + "?commit=c9", body(centre=115.0, seed=5), format="json")
    (run,) = response.json()
    assert (run["verdict"], run["commit"], run["benchmark_name"]) == ("regression", "c9", "pages/render")
    assert run["change_percent"] == pytest.approx(15, abs=4)
    viewer = api_client("viewer")
    listed = viewer.get(RUNS + "?commit=c9").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    detail = viewer.get(f"{RUNS}{run['id']}/").json()
    assert len(detail["samples"]) == 30
    bench = viewer.get(f"/api/v1/benchmarks/{run['benchmark']}/").json()
    assert (bench["unit"], bench["min_change_percent"]) == ("ms", 5.0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "benchmarks"),
        ({"benchmarks": [{"name": "x", "samples": [1, None]}]}, "benchmarks[0].samples"),
        ({"commit": 5, "benchmarks": [{"name": "x", "samples": []}]}, "commit"),
        ({"benchmarks": [{"name": "x" * 301, "samples": []}]}, "benchmarks[0].name"),
    ],
)
def test_bad_bodies_are_a_400_naming_the_field(key_client, payload, field):
    response = key_client.post(RUNS, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_bad_query_parameters_are_a_400(api_client, key_client):
    assert "benchmark" in api_client("viewer").get(RUNS + "?benchmark=x").json()
    assert "branch" in key_client.post(RUNS + "?branch=" + "b" * 201, body(), format="json").json()


def test_the_run_list_takes_constant_queries(api_client, key_client, django_assert_max_num_queries):
    for seed in range(6):
        key_client.post(RUNS, body(seed=seed, commit=f"c{seed}"), format="json")
    with django_assert_max_num_queries(4):
        assert len(api_client("viewer").get(RUNS).json()["results"]) == 6


def test_a_regression_raises_an_alert_when_asked_and_a_calm_run_resolves_it(key_client):
    from monitoring.alerting.models import Alert

    for seed in range(2):
        key_client.post(RUNS + "?alert=true", body(seed=seed), format="json")
    assert not Alert.objects.exists()
    key_client.post(RUNS, body(centre=115.0, seed=5, commit="quiet"), format="json")
    assert not Alert.objects.exists()  # not asked for
    key_client.post(RUNS + "?alert=true", body(centre=115.0, seed=6, commit="c9"), format="json")
    alert = Alert.objects.get()
    assert (alert.status, alert.labels) == ("firing", {"benchmark": "pages/render", "branch": "main"})
    assert "regressed (+" in alert.summary and alert.rule.name == "Benchmark regression"
    # Accepted as the new normal (the baseline pinned to that run): the next run is no regression.
    Benchmark.objects.update(baseline=BenchmarkRun.objects.get(commit="c9"))
    key_client.post(RUNS + "?alert=true", body(centre=115.0, seed=7, commit="c10"), format="json")
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert Alert.objects.count() == 1
