"""Benchmark pages and chart: who may see them, the regression flag, constant queries."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from reporting.benchmarks.runs import runs_import

START = datetime(2026, 11, 1, tzinfo=UTC)


def upload(name, centre, seed, commit, hours):
    samples = (centre * np.random.default_rng(seed).lognormal(0, 0.03, 30)).tolist()
    runs_import(
        data={
            "commit": commit,
            "branch": "main",
            "time": (START + timedelta(hours=hours)).isoformat(),
            "benchmarks": [{"name": name, "unit": "ms", "samples": samples}],
        }
    )


@pytest.fixture
def history(db):
    for i in range(3):
        upload("steady", 50.0, i, f"aaa{i}", i)
        upload("slowing", 100.0, 10 + i, f"aaa{i}", i)
    upload("steady", 50.0, 20, "bbb", 5)
    upload("slowing", 120.0, 21, "bbb", 5)


def pages(pk):
    return ["/reporting/benchmarks/", f"/reporting/benchmarks/{pk}/", f"/reporting/benchmarks/{pk}/chart/"]


@pytest.mark.parametrize("index", range(3))
@pytest.mark.parametrize(("actor", "code"), [("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_who_may_see_the_pages(page_client, history, index, actor, code):
    from reporting.benchmarks.models import Benchmark

    url = pages(Benchmark.objects.get(name="slowing").pk)[index]
    assert page_client(actor).get(url).status_code == code


@pytest.mark.parametrize("index", range(3))
def test_anonymous_and_service_keys_get_no_page(page_client, other_key, history, index):
    from reporting.benchmarks.models import Benchmark

    url = pages(Benchmark.objects.get(name="slowing").pk)[index]
    response = page_client("anonymous").get(url)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "login" in response["Location"]
    keyed = page_client("anonymous").get(url, HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert keyed.status_code in (302, 403)


def test_the_list_flags_the_regression(page_client, history, django_assert_max_num_queries):
    client = page_client("viewer")
    client.get("/reporting/benchmarks/")
    for i in range(20):  # more benchmarks, the same queries
        upload(f"more{i}", 10.0, 100 + i, "ccc", 6)
    with django_assert_max_num_queries(8):
        html = client.get("/reporting/benchmarks/").content.decode()
    assert "1 regression in the latest runs" in html
    slowing = html.split("slowing")[1].split("</tr>")[0]
    steady = html.split("steady")[1].split("</tr>")[0]
    assert "regression" in slowing and "bbb" in slowing
    assert "regression" not in steady and "unchanged" in steady


def test_the_chart_follows_commits(page_client, history):
    from reporting.benchmarks.models import Benchmark

    bench = Benchmark.objects.get(name="slowing")
    data = page_client("viewer").get(f"/reporting/benchmarks/{bench.pk}/chart/").json()
    assert [label.split()[0] for label in data["labels"]] == ["aaa0", "aaa1", "aaa2", "bbb"]
    medians = data["datasets"][0]["data"]
    assert medians[-1] > 1.1 * medians[0]
    html = page_client("viewer").get(f"/reporting/benchmarks/{bench.pk}/").content.decode()
    assert html.count("<tr>") == 5  # header + 4 runs
