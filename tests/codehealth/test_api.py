"""API: role matrix for every endpoint and the scan action, filters, validation."""

import pytest

from codehealth.models import (
    SEVERITY_RANK,
    CodeRepository,
    CodeScan,
    DebtItem,
    FileMetrics,
    FunctionMetrics,
    QualityGate,
)

ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")
DENIED = (401, 403)
READERS = ("viewer", "operator", "admin")
PREFIXES = ["gates", "repositories", "scans", "files", "functions", "debt"]


def detail_pk(prefix, repository, scan):
    return {
        "gates": lambda: QualityGate.objects.get_or_create(name="default")[0].pk,
        "repositories": lambda: repository.pk,
        "scans": lambda: scan.pk,
        "files": lambda: FileMetrics.objects.first().pk,
        "functions": lambda: FunctionMetrics.objects.first().pk,
        "debt": lambda: DebtItem.objects.first().pk,
    }[prefix]()


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_read_role_matrix(api_client, scanned, actor, prefix):
    repository, scan = scanned
    client = api_client(actor)
    listing = client.get(f"/api/v1/codehealth/{prefix}/")
    detail = client.get(f"/api/v1/codehealth/{prefix}/{detail_pk(prefix, repository, scan)}/")
    if actor in READERS:
        assert listing.status_code == detail.status_code == 200, listing.content
        assert listing.json()["count"] >= 1
    else:
        assert listing.status_code in DENIED and detail.status_code in DENIED


WRITES = {
    "repositories": {"name": "new", "path": "/srv/app", "excludes": ["tests"], "thresholds": {"complexity": 15}},
    "gates": {"name": "strict", "max_new_debt": 0, "new_debt_severity": "medium", "min_average_mi": 40},
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", list(WRITES))
def test_writes_are_for_admins(api_client, scanned, actor, prefix):
    repository, _ = scanned
    client = api_client(actor)
    created = client.post(f"/api/v1/codehealth/{prefix}/", WRITES[prefix], format="json")
    target = repository.pk if prefix == "repositories" else QualityGate.objects.get_or_create(name="default")[0].pk
    patched = client.patch(f"/api/v1/codehealth/{prefix}/{target}/", {"name": "renamed"}, format="json")
    if actor == "admin":
        assert created.status_code == 201, created.content
        assert patched.status_code == 200
    elif actor == "anonymous":
        assert created.status_code in DENIED and patched.status_code in DENIED
    else:
        assert created.status_code == patched.status_code == 403


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("prefix", ["scans", "files", "functions", "debt"])
def test_scan_results_are_read_only_for_everyone(api_client, scanned, actor, prefix):
    repository, scan = scanned
    pk = detail_pk(prefix, repository, scan)
    response = api_client(actor).delete(f"/api/v1/codehealth/{prefix}/{pk}/")
    assert response.status_code in ((405,) if actor == "admin" else DENIED)


@pytest.mark.parametrize("actor", ACTORS)
def test_scan_now_is_for_operators_and_admins(
    api_client, scanned, actor, task_queue, django_capture_on_commit_callbacks
):
    repository, _ = scanned
    before = CodeScan.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(actor).post(f"/api/v1/codehealth/repositories/{repository.pk}/scan/")
    if actor in ("operator", "admin"):
        assert response.status_code == 202, response.content
        body = response.json()
        assert (body["status"], body["trigger"]) == ("queued", "api")
        assert CodeScan.objects.count() == before + 1
        assert task_queue.queue_size() == 1  # handed to the workers after commit
    else:
        assert response.status_code in DENIED
        assert CodeScan.objects.count() == before


def test_repository_validation_names_the_field(api_client, db):
    client = api_client("admin")
    response = client.post(
        "/api/v1/codehealth/repositories/", {"name": "x", "path": "/srv", "thresholds": {"bogus": 1}}, format="json"
    )
    assert response.status_code == 400
    assert "unknown threshold 'bogus'" in response.json()["thresholds"][0]
    relative = client.post("/api/v1/codehealth/repositories/", {"name": "y", "path": "src/app"}, format="json")
    assert relative.status_code == 400 and "path" in relative.json()
    zero = client.post(
        "/api/v1/codehealth/repositories/",
        {"name": "z", "path": "/srv", "thresholds": {"complexity": 0}},
        format="json",
    )
    assert zero.status_code == 400 and "'complexity' must be above 0" in zero.json()["thresholds"][0]
    forever = client.post(
        "/api/v1/codehealth/repositories/", {"name": "f", "path": "/srv", "scan_every_hours": 10**8}, format="json"
    )
    assert forever.status_code == 400 and "scan_every_hours" in forever.json()
    assert not CodeRepository.objects.filter(name__in=["z", "f"]).exists()


def test_debt_filters(api_client, scanned):
    repository, _ = scanned
    client = api_client("viewer")

    def count(query):
        response = client.get(f"/api/v1/codehealth/debt/?{query}")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count("kind=todo") == 1
    assert count("kind=todo&kind=fixme") == 2
    assert count("severity=high") == DebtItem.objects.filter(severity="high").count() >= 1
    assert count("status=open") == DebtItem.objects.filter(status="open").count()
    assert count("path=app/core") == 2
    assert count(f"repository={repository.pk}") == DebtItem.objects.count()
    assert client.get("/api/v1/codehealth/debt/?severity=nonsense").status_code == 400


def test_debt_orders_by_severity_rank_not_alphabet(api_client, scanned):
    repository, scan = scanned
    item = DebtItem.objects.first()
    for n, severity in enumerate(["medium", "critical", "low", "high"]):
        DebtItem.objects.create(
            **{f: getattr(item, f) for f in ("kind", "path", "line", "message", "remediation_minutes")},
            repository=repository, fingerprint=f"x{n}", severity=severity, first_seen_scan=scan, last_seen_scan=scan,
            created_at=item.created_at, updated_at=item.updated_at,
        )  # fmt: skip
    client = api_client("viewer")
    url = "/api/v1/codehealth/debt/?ordering="
    worst_first = [d["severity"] for d in client.get(url + "-severity").json()["results"]]
    assert worst_first == sorted(worst_first, key=lambda s: -SEVERITY_RANK[s])
    assert worst_first[0] == "critical" and worst_first[-1] == "low"
    mildest_first = [d["severity"] for d in client.get(url + "severity").json()["results"]]
    assert mildest_first == list(reversed(worst_first))


def test_file_and_function_filters(api_client, scanned):
    _, scan = scanned
    client = api_client("viewer")
    files = client.get(f"/api/v1/codehealth/files/?scan={scan.pk}").json()
    assert files["count"] == 3
    functions = client.get(f"/api/v1/codehealth/functions/?scan={scan.pk}&min_complexity=20").json()
    assert [f["qualname"] for f in functions["results"]] == ["g"]
    assert functions["results"][0]["path"] == "app/complex.py"


@pytest.mark.parametrize("prefix", ["scans", "files", "functions", "debt"])
def test_list_queries_do_not_grow_with_rows(api_client, scanned, prefix, django_assert_max_num_queries):
    client = api_client("viewer")
    with django_assert_max_num_queries(6):
        assert client.get(f"/api/v1/codehealth/{prefix}/?page_size=500").status_code == 200


def test_repository_schedule_sets_and_clears_the_due_time(db):
    repo = CodeRepository.objects.create(name="r", path="/srv", scan_every_hours=6)
    assert repo.next_scan_at is not None
    repo.scan_every_hours = None
    repo.save()
    assert repo.next_scan_at is None
