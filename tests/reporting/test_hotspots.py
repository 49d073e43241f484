"""Hotspots from a real git repository made here, code-health figures and request figures, with
an exact ranking; dead features with their debt; the page and API role matrix."""

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.models import UsageEvent
from codehealth.models import CodeRepository, CodeScan, DebtItem, FileMetrics, ScanFile
from reporting.hotspot_rank import Runtime, change_counts, rank
from reporting.hotspots import dead_features, hotspots_report, routes_to_modules

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def git(repo, *args, when=None):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, timeout=30)


def commit(repo, files, when):
    for name in files:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.read_text() + "x = 1\n" if path.exists() else "x = 0\n")
        git(repo, "add", name)
    git(repo, "commit", "-q", "-m", "change " + " ".join(files), when=when)


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    commit(root, ["app/b.py"], NOW - timedelta(days=200))  # before the window
    commit(root, ["app/a.py", "app/b.py", "app/c.py"], NOW - timedelta(days=40))
    commit(root, ["app/a.py", "app/c.py"], NOW - timedelta(days=20))
    commit(root, ["app/a.py", "README.md"], NOW - timedelta(days=2))
    return root


def test_change_counts_are_commits_in_the_window(repo):
    assert change_counts(repo, days=90, now=NOW) == {"app/a.py": 3, "app/b.py": 1, "app/c.py": 2, "README.md": 1}
    assert change_counts(repo, days=30, now=NOW) == {"app/a.py": 2, "app/c.py": 1, "README.md": 1}
    # A sub-directory: its files only, named relative to it.
    assert change_counts(repo / "app", days=365, now=NOW) == {"a.py": 3, "b.py": 2, "c.py": 2}


def test_bad_windows_and_missing_repositories_are_refused(tmp_path):
    from reporting.hotspot_rank import GitError

    with pytest.raises(ValueError, match="days"):
        change_counts(tmp_path, days=0)
    with pytest.raises(GitError):
        change_counts(tmp_path / "nowhere", days=30)


def test_rank_is_complexity_times_changes_times_impact():
    complexity = {"a.py": 2, "b.py": 10, "c.py": 5, "d.py": 40}
    changes = {"a.py": 3, "b.py": 1, "c.py": 2}
    runtime = {"c.py": Runtime(requests=300, errors=10, p95=0.5), "a.py": Runtime(requests=100, errors=0, p95=0.25)}
    spots = rank(complexity, changes, runtime)
    # c: 5*2*(1 + .75 + 1 + 1) = 37.5; b: 10*1*1 = 10; a: 2*3*(1 + .25 + 0 + .5) = 10.5; d: never changed.
    assert [(s.path, s.score) for s in spots] == [("c.py", 37.5), ("a.py", 10.5), ("b.py", 10.0), ("d.py", 0.0)]
    assert spots[0].impact == 3.75
    # Without request figures, complexity x changes alone.
    assert [(s.path, s.score) for s in rank(complexity, changes)] == [
        ("b.py", 10.0),
        ("c.py", 10.0),
        ("a.py", 6.0),
        ("d.py", 0.0),
    ]


@pytest.fixture
def scanned(repo, db):
    repository = CodeRepository.objects.create(name="project", path=str(repo))
    scan = CodeScan.objects.create(repository=repository, status="succeeded", queued_at=NOW)
    for path, cx in {"app/a.py": 2, "app/b.py": 10, "app/c.py": 5, "app/d.py": 40}.items():
        file = FileMetrics.objects.create(
            repository=repository, path=path, content_hash=path, analysis_key="k", complexity=cx
        )
        ScanFile.objects.create(scan=scan, file=file)
    return repository, scan


def test_the_report_ranks_the_repository_with_its_runtime(scanned):
    repository, _ = scanned
    runtime = {"app/c.py": Runtime(requests=10, errors=0, p95=0.1)}  # a module path as the portal names it
    report = hotspots_report(repository=repository, days=90, runtime=runtime, now=NOW)
    assert [(s["path"], s["score"]) for s in report.hotspots] == [
        ("app/c.py", 30.0),  # 5 * 2 * (1 + 1 + 0 + 1)
        ("app/b.py", 10.0),
        ("app/a.py", 6.0),
        ("app/d.py", 0.0),
    ]
    assert report.runtime_known and not report.note


def test_the_portal_routes_map_to_their_view_modules():
    routes = routes_to_modules()
    assert routes["/reporting/benchmarks/"] == "reporting.benchmarks.views"
    assert routes["/reporting/hotspots/"] == "reporting.hotspots_views"
    assert routes["/api/v1/benchmarks/runs/"] == "reporting.benchmarks.api"


def test_dead_features_with_their_debt(scanned, service, other_service, django_assert_max_num_queries):
    repository, scan = scanned
    now = timezone.now()
    for name, svc, days_ago in [
        ("codehealth.scan_now", service, 45),
        ("codehealth.scan_now", service, 40),
        ("alerts.acknowledge", service, 2),  # used lately: alive
        ("alerts.acknowledge", service, 90),
        ("export", other_service, 31),  # no package in its name: no debt mapping
    ]:
        UsageEvent.objects.create(time=now - timedelta(days=days_ago), service=svc, name=name)
    UsageEvent.objects.create(time=now - timedelta(days=60), service=service, name="x.y", kind="api_call")
    for i, (path, minutes, status) in enumerate(
        [("codehealth/views.py", 30, "open"), ("codehealth/x.py", 15, "open"), ("codehealth/y.py", 99, "fixed")]
    ):
        DebtItem.objects.create(
            repository=repository, fingerprint=f"f{i}", kind="todo", severity="low", status=status, path=path,
            line=1, message="m", remediation_minutes=minutes, first_seen_scan=scan, last_seen_scan=scan,
            created_at=now, updated_at=now,
        )  # fmt: skip
    with django_assert_max_num_queries(2):
        dead = dead_features(unused_days=30, now=now)
    assert [(d["service"], d["name"], d["days_unused"], d["debt_minutes"]) for d in dead] == [
        ("checkout", "codehealth.scan_now", 40, 45),
        ("billing", "export", 31, None),
    ]
    assert [d["name"] for d in dead_features(unused_days=35, now=now)] == ["codehealth.scan_now"]


@pytest.mark.parametrize(
    ("actor", "code"),
    [("anonymous", 401), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200), ("other_key", 403)],
)
def test_who_may_read_the_api(api_client, scanned, actor, code):
    assert api_client(actor).get("/api/v1/reporting/hotspots/").status_code == code


@pytest.mark.parametrize(("actor", "code"), [("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_who_may_see_the_page(page_client, scanned, actor, code):
    assert page_client(actor).get("/reporting/hotspots/").status_code == code


def test_anonymous_and_keys_get_no_page(page_client, other_key):
    assert page_client("anonymous").get("/reporting/hotspots/").status_code in (302, 403)
    keyed = page_client("anonymous").get("/reporting/hotspots/", HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert keyed.status_code in (302, 403)


def test_api_and_page_answer_the_ranking(api_client, page_client, scanned):
    body = api_client("viewer").get("/api/v1/reporting/hotspots/?days=3650").json()
    assert body["repository"] == "project"
    assert [s["path"] for s in body["hotspots"]][:1] == ["app/b.py"]  # 10 * 2 commits in ten years
    assert body["dead_features"] == [] and body["unused_days"] == 30
    html = page_client("viewer").get("/reporting/hotspots/?days=3650").content.decode()
    assert html.index("app/b.py") < html.index("app/a.py")


@pytest.mark.parametrize(
    ("query", "field"),
    [("days=0", "days"), ("days=4000", "days"), ("unused_days=366", "unused_days"), ("repository=999", "repository")],
)
def test_bad_parameters_name_the_field(api_client, page_client, scanned, query, field):
    response = api_client("viewer").get(f"/api/v1/reporting/hotspots/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_the_hotspots_answer_takes_constant_queries(api_client, scanned, service, django_assert_max_num_queries):
    repository, scan = scanned
    client = api_client("viewer")
    client.get("/api/v1/reporting/hotspots/")
    for i in range(30):  # more files, more dead features: the same queries
        file = FileMetrics.objects.create(
            repository=repository, path=f"app/m{i}.py", content_hash=f"h{i}", analysis_key="k"
        )
        ScanFile.objects.create(scan=scan, file=file)
        UsageEvent.objects.create(time=NOW - timedelta(days=400), service=service, name=f"p{i}.f")
    with django_assert_max_num_queries(12):
        body = client.get("/api/v1/reporting/hotspots/").json()
    assert len(body["hotspots"]) == 34 and len(body["dead_features"]) == 30
