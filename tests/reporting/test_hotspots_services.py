"""Hotspots weighed by the request figures of the service a repository is linked to: transactions
stored as the Sentry ingest stores them (dotted function names tied to scanned modules, URL
patterns counted apart), the portal's own service through its URL conf, the `service` field of the
repositories API and admin."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from codehealth.models import CodeRepository, CodeScan, FileMetrics, ScanFile
from monitoring.errors.sentry.transactions import transaction_rows
from monitoring.hosts import portal_service
from monitoring.ingest import samples_write
from reporting.hotspot_rank import Runtime
from reporting.hotspots import _match_runtime, _suffixes, dotted_module, hotspots_report

# Equally complex, equally changed: only runtime impact can order them.
FILES = {"src/shop/views.py": 10, "src/shop/models.py": 10, "src/shop/api/__init__.py": 4, "src/other.py": 1}


def git(repo, *args, when):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, timeout=30)


@pytest.fixture
def shop(tmp_path, db):
    """A scanned repository whose views and models changed twice each in the last days."""
    root = tmp_path / "shop"
    root.mkdir()
    now = timezone.now()
    git(root, "init", "-q", when=now)
    for days_ago in (5, 3):
        for name in FILES:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"x = {days_ago}\n")
        git(root, "add", ".", when=now)
        git(root, "commit", "-q", "-m", "change", when=now - timedelta(days=days_ago))
    repository = CodeRepository.objects.create(name="shop", path=str(root))
    scan = CodeScan.objects.create(repository=repository, status="succeeded", queued_at=now)
    for path, cx in FILES.items():
        file = FileMetrics.objects.create(
            repository=repository, path=path, content_hash=path, analysis_key="k", complexity=cx
        )
        ScanFile.objects.create(scan=scan, file=file)
    return repository, scan


def transaction(name, *, seconds=0.2, status=200, minutes_ago=30):
    """A transaction event as sentry-sdk sends it."""
    end = timezone.now() - timedelta(minutes=minutes_ago)
    return {
        "type": "transaction",
        "transaction": name,
        "start_timestamp": (end - timedelta(seconds=seconds)).timestamp(),
        "timestamp": end.timestamp(),
        "request": {"method": "GET"},
        "contexts": {"trace": {"status": "ok"}, "response": {"status_code": status}},
    }


def ingest(service, events):
    """What the envelope endpoint stores for transaction items."""
    made = transaction_rows(events, service_id=service.pk, now=timezone.now())
    assert not made.dropped
    samples_write(made.rows)


def test_dotted_names_tie_to_the_longest_prefix_naming_a_scanned_file():
    suffixes = _suffixes(["src/shop/views.py", "src/shop/api/__init__.py", "shop/views/x.py"])
    assert dotted_module("shop.views.checkout", suffixes) == "shop/views.py"
    assert dotted_module("shop.views.CheckoutView.get", suffixes) == "shop/views.py"
    assert dotted_module("shop.api.OrderViewSet.list", suffixes) == "shop/api/__init__.py"
    assert dotted_module("src.shop.views.checkout", suffixes) == "src/shop/views.py"
    assert dotted_module("shop.views.x.run", suffixes) == "shop/views/x.py"  # longer wins over shop/views.py
    for untied in ["/cart/<int:id>/", "GET /cart", "checkout", "shop..views.x", "django.contrib.admin.index", ""]:
        assert dotted_module(untied, suffixes) is None, untied
    # The full name is a function's: a file of that name is not its module.
    assert dotted_module("shop.views", _suffixes(["shop/views.py"])) is None


def test_a_module_matches_the_paths_it_is_a_tail_of_the_longest_first():
    a, b = Runtime(1, 0, None), Runtime(2, 0, None)
    matched = _match_runtime(
        ["src/shop/views.py", "views.py", "src/xviews.py", "other/views.py"], {"views.py": a, "shop/views.py": b}
    )
    assert matched == {"src/shop/views.py": b, "views.py": a, "other/views.py": a}


def test_a_linked_service_weighs_the_modules_its_transactions_name(shop, service):
    repository, _ = shop
    repository.service = service
    repository.save()
    ingest(
        service,
        [transaction("shop.views.checkout", seconds=0.8, status=500)]
        + [transaction("shop.views.CheckoutView.get", seconds=0.1)] * 3
        + [transaction("shop.api.OrderViewSet.list", seconds=0.4)]
        + [transaction("/cart/<int:id>/")] * 5  # a URL pattern: no module to tie it to
        + [transaction("django.contrib.admin.sites.index")],  # dotted, but not this repository's
    )
    report = hotspots_report(repository=repository, days=30)
    spots = {s["path"]: s for s in report.hotspots}
    views, models = spots["src/shop/views.py"], spots["src/shop/models.py"]
    assert views["complexity"] == models["complexity"] and views["changes"] == models["changes"] == 2
    assert (views["requests"], views["errors"]) == (4, 1)
    assert spots["src/shop/api/__init__.py"]["requests"] == 1
    assert models["requests"] == 0 and models["impact"] == 1.0
    # Views: 4 of 5 tied requests, the only 5xx, the slowest p95 -> impact 1 + .8 + 1 + 1.
    assert views["impact"] == pytest.approx(3.8, abs=0.05)
    assert [s["path"] for s in report.hotspots][:2] == ["src/shop/views.py", "src/shop/models.py"]
    assert report.runtime_known and report.service == "checkout"
    # Endpoints are (route, method): the two dotted views and the package are tied.
    assert (report.endpoints_tied, report.endpoints_untied) == (3, 2)
    assert "2 of 5 endpoints of checkout could not be tied" in report.note


def test_another_services_figures_do_not_count(shop, service, other_service):
    repository, _ = shop
    repository.service = other_service
    repository.save()
    ingest(service, [transaction("shop.views.checkout", status=500)])
    report = hotspots_report(repository=repository, days=30)
    assert not report.runtime_known and report.service == "billing"
    assert {s["impact"] for s in report.hotspots} == {1.0}
    assert (report.endpoints_tied, report.endpoints_untied, report.note) == (0, 0, "")


def test_an_unlinked_repository_reads_the_portals_figures_as_before(shop):
    repository, _ = shop
    ingest(portal_service(), [transaction("/reporting/hotspots/"), transaction("shop.views.checkout")])
    report = hotspots_report(repository=repository, days=30)
    # The portal's routes lead to the portal's modules, none of which this repository holds.
    assert (report.service, report.runtime_known, report.endpoints_tied, report.endpoints_untied) == (None, False, 0, 2)
    assert {s["impact"] for s in report.hotspots} == {1.0} and report.note == ""


@pytest.mark.parametrize("linked", [True, False])
def test_the_portals_own_code_is_tied_through_its_url_conf(tmp_path, db, linked):
    """Linked to the portal's own service, or to none (as before services could be linked)."""
    now = timezone.now()
    git(tmp_path, "init", "-q", when=now)
    for name in ["reporting/hotspots_views.py", "reporting/trends.py"]:
        (tmp_path / "reporting").mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    git(tmp_path, "add", ".", when=now)
    git(tmp_path, "commit", "-q", "-m", "c", when=now - timedelta(days=1))
    portal = portal_service()
    repository = CodeRepository.objects.create(name="portal", path=str(tmp_path), service=portal if linked else None)
    scan = CodeScan.objects.create(repository=repository, status="succeeded", queued_at=now)
    for path in ["reporting/hotspots_views.py", "reporting/trends.py"]:
        file = FileMetrics.objects.create(
            repository=repository, path=path, content_hash=path, analysis_key="k", complexity=3
        )
        ScanFile.objects.create(scan=scan, file=file)
    ingest(portal, [transaction("/reporting/hotspots/")] * 2 + [transaction("/nowhere/")])
    report = hotspots_report(repository=repository, days=30)
    spots = {s["path"]: s for s in report.hotspots}
    assert spots["reporting/hotspots_views.py"]["requests"] == 2 and spots["reporting/trends.py"]["requests"] == 0
    assert report.hotspots[0]["path"] == "reporting/hotspots_views.py"
    assert report.service == (portal.slug if linked else None)
    assert (report.endpoints_tied, report.endpoints_untied) == (1, 1)
    assert "could not be tied" not in report.note  # every portal route is known; "/nowhere/" was a 404


def test_the_api_answers_the_linked_services_figures_in_constant_queries(
    api_client, shop, service, django_assert_max_num_queries
):
    repository, scan = shop
    repository.service = service
    repository.save()
    ingest(service, [transaction("shop.views.checkout"), transaction("/cart/")])
    client = api_client("viewer")
    body = client.get(f"/api/v1/reporting/hotspots/?repository={repository.pk}&days=30").json()
    assert (body["service"], body["endpoints_tied"], body["endpoints_untied"]) == ("checkout", 1, 1)
    assert body["hotspots"][0]["path"] == "src/shop/views.py"
    for i in range(20):  # more files and more endpoints: the same queries
        file = FileMetrics.objects.create(
            repository=repository, path=f"src/shop/m{i}.py", content_hash=f"h{i}", analysis_key="k"
        )
        ScanFile.objects.create(scan=scan, file=file)
    ingest(service, [transaction(f"shop.m{i}.view") for i in range(20)] + [transaction(f"/p{i}/") for i in range(20)])
    with django_assert_max_num_queries(12):
        body = client.get(f"/api/v1/reporting/hotspots/?repository={repository.pk}&days=30").json()
    assert (body["endpoints_tied"], body["endpoints_untied"]) == (21, 21)


def test_the_page_names_the_service(page_client, shop, service):
    repository, _ = shop
    repository.service = service
    repository.save()
    ingest(service, [transaction("/cart/<int:id>/")])
    html = page_client("viewer").get(f"/reporting/hotspots/?repository={repository.pk}&days=30").content.decode()
    assert "share of checkout's requests" in html and "No route of checkout maps" in html
    assert "1 of 1 endpoints of checkout could not be tied" in html


def test_the_repositories_api_links_a_service_by_slug(api_client, shop, service):
    repository, _ = shop
    client = api_client("admin")
    url = f"/api/v1/codehealth/repositories/{repository.pk}/"
    assert client.get(url).json()["service"] is None
    assert client.patch(url, {"service": "checkout"}, format="json").json()["service"] == "checkout"
    repository.refresh_from_db()
    assert repository.service == service
    unknown = client.patch(url, {"service": "nope"}, format="json")
    assert unknown.status_code == 400 and "service" in unknown.json()
    assert client.patch(url, {"service": None}, format="json").json()["service"] is None
    service.delete()  # a deleted service unlinks, never deletes, the repository
    assert CodeRepository.objects.filter(pk=repository.pk, service=None).exists()


def test_the_repository_lists_take_constant_queries(api_client, page_client, shop, service, other_service):
    client, admin = api_client("admin"), page_client("admin")

    def counted(url, client):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    urls = ["/api/v1/codehealth/repositories/", "/admin/codehealth/coderepository/"]
    for url in urls:  # warm: first-use lookups (content types, settings) are not per row
        counted(url, client if url.startswith("/api") else admin)
    before = {url: counted(url, client if url.startswith("/api") else admin) for url in urls}
    for i in range(6):
        CodeRepository.objects.create(name=f"r{i}", path="/srv", service=service if i % 2 else other_service)
    after = {url: counted(url, client if url.startswith("/api") else admin) for url in urls}
    assert after == before
    assert "Checkout" in admin.get("/admin/codehealth/coderepository/").content.decode()
