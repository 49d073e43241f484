"""Pages: role matrix for every page, the chart and "scan now"; filters; no N+1."""

import pytest
from django.test import Client

from codehealth.models import CodeScan, DebtItem, FileMetrics
from codehealth.scanning import scan_create, scan_run

ACTORS = ("anonymous", "other_key", "norole", "viewer", "operator", "admin")
READ = {"anonymous": 302, "other_key": 302, "norole": 403, "viewer": 200, "operator": 200, "admin": 200}
SCAN = {"anonymous": 302, "other_key": 302, "norole": 403, "viewer": 403, "operator": 302, "admin": 302}


@pytest.fixture
def client_for(page_client, other_key):
    def make(actor):
        if actor == "other_key":  # a service key is for the API; pages do not accept it
            return Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
        return page_client(actor)

    return make


def page_urls(repository, scan):
    file = FileMetrics.objects.filter(scan_files__scan=scan, path="app/core.py").get()
    return [
        "/codehealth/",
        f"/codehealth/{repository.pk}/",
        f"/codehealth/{repository.pk}/debt/",
        f"/codehealth/{repository.pk}/imports/",
        f"/codehealth/{repository.pk}/files/{file.pk}/",
    ]


@pytest.mark.parametrize("actor", ACTORS)
def test_pages_role_matrix(client_for, scanned, actor):
    repository, scan = scanned
    client = client_for(actor)
    for url in page_urls(repository, scan):
        response = client.get(url)
        assert response.status_code == READ[actor], url
        if actor in ("anonymous", "other_key"):
            assert response.url.startswith("/login/")


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("series", ["quality", "debt"])
def test_chart_role_matrix(client_for, scanned, actor, series):
    repository, _ = scanned
    response = client_for(actor).get(f"/codehealth/{repository.pk}/chart/{series}/")
    expected = {"anonymous": 403, "other_key": 403, "norole": 403}.get(actor, 200)
    assert response.status_code == expected
    if expected == 200:
        data = response.json()
        assert len(data["labels"]) == 2
        assert len(data["datasets"]) == (3 if series == "quality" else 2)


def test_unknown_chart_series_is_404(client_for, scanned):
    repository, _ = scanned
    assert client_for("viewer").get(f"/codehealth/{repository.pk}/chart/nope/").status_code == 404


@pytest.mark.parametrize("actor", ACTORS)
def test_scan_now_role_matrix(client_for, scanned, actor, task_queue, django_capture_on_commit_callbacks):
    repository, _ = scanned
    before = CodeScan.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(actor).post(f"/codehealth/{repository.pk}/scan/")
    assert response.status_code == SCAN[actor]
    queued = actor in ("operator", "admin")
    assert CodeScan.objects.count() == before + queued
    assert task_queue.queue_size() == queued
    if queued:
        assert response.url == f"/codehealth/{repository.pk}/"


@pytest.mark.parametrize("actor", ["viewer", "operator"])
def test_scan_button_only_for_those_allowed(client_for, scanned, actor):
    repository, _ = scanned
    html = client_for(actor).get(f"/codehealth/{repository.pk}/").content.decode()
    assert ("Scan now" in html) is (actor == "operator")


def test_overview_shows_gate_totals_worst_spots_and_debt_breakdown(client_for, scanned):
    repository, scan = scanned
    html = client_for("viewer").get(f"/codehealth/{repository.pk}/").content.decode()
    assert scan.get_gate_display() in html
    assert "Complex function (cyclomatic)" in html  # debt by kind
    assert "<code>g</code>" in html  # most complex function
    assert "app/broken.py" in html and "SyntaxError" in html  # unparsable files are listed
    assert 'data-chart-url="/codehealth/' in html


def test_debt_list_filters(client_for, scanned):
    repository, _ = scanned
    client = client_for("viewer")
    html = client.get(f"/codehealth/{repository.pk}/debt/?kind=fixme").content.decode()
    assert "FIXME: later" in html and "TODO: tidy" not in html
    html = client.get(f"/codehealth/{repository.pk}/debt/?severity=high").content.decode()
    assert "cyclomatic complexity 26" in html and "TODO: tidy" not in html
    fixed = client.get(f"/codehealth/{repository.pk}/debt/?status=fixed").content.decode()
    assert "No debt matches." in fixed


def test_file_detail_shows_metrics_functions_and_debt(client_for, scanned):
    repository, scan = scanned
    file = FileMetrics.objects.get(scan_files__scan=scan, path="app/complex.py")
    html = client_for("viewer").get(f"/codehealth/{repository.pk}/files/{file.pk}/").content.decode()
    assert "Maintainability index" in html and "<code>g</code>" in html and "cyclomatic complexity 26" in html


def test_file_of_another_repository_is_404(client_for, scanned, tmp_path):
    repository, scan = scanned
    file = FileMetrics.objects.filter(scan_files__scan=scan).first()
    other = type(repository).objects.create(name="other", path=str(tmp_path))
    assert client_for("viewer").get(f"/codehealth/{other.pk}/files/{file.pk}/").status_code == 404


def test_list_pages_query_counts_do_not_grow(client_for, scanned, tree, django_assert_max_num_queries):
    repository, _ = scanned
    client = client_for("viewer")
    root = tree({f"more/m{i}.py": f"# TODO: {i}\n# FIXME: {i}\ndef f{i}(a):\n    return a\n" for i in range(40)})
    assert root
    scan_run(scan=scan_create(repository=repository), workers=1)
    assert DebtItem.objects.count() > 80
    for url, limit in [
        ("/codehealth/", 8),
        (f"/codehealth/{repository.pk}/", 16),
        (f"/codehealth/{repository.pk}/debt/", 10),
        (f"/codehealth/{repository.pk}/chart/quality/", 8),
    ]:
        with django_assert_max_num_queries(limit):
            assert client.get(url).status_code == 200
