"""Maintenance API: environments, tasks, runs, approve/reject, run now and the summary, per role."""

import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
from maintenance.models.runs import change_figures
from maintenance.runner import run_execute, run_queue

ACTORS = ("anonymous", "viewer", "operator", "admin", "other_key")
DENIED = (401, 403)
READERS = ("viewer", "operator", "admin")


@pytest.fixture
def task(db):
    now = timezone.now()
    return MaintenanceTask.objects.create(kind="refactor", title="Refactor x", created_at=now, updated_at=now)


@pytest.fixture
def waiting_run(make_task):
    run = run_queue(task=make_task(requires_approval=True), trigger="manual")
    assert run_execute(run_id=run.pk) == "waiting_approval"
    return run


def expect(response, actor, allowed, ok):
    if actor in allowed:
        assert response.status_code == ok, response.content
    elif actor == "anonymous":
        assert response.status_code in DENIED
    else:
        assert response.status_code == 403, (actor, response.status_code)


@pytest.mark.parametrize("actor", ACTORS)
def test_read_role_matrix(api_client, task, waiting_run, environment, actor):
    client = api_client(actor)
    for url in (
        "/api/v1/maintenance/tasks/",
        f"/api/v1/maintenance/tasks/{task.pk}/",
        "/api/v1/maintenance/runs/",
        f"/api/v1/maintenance/runs/{waiting_run.pk}/",
        "/api/v1/maintenance/environments/",
        f"/api/v1/maintenance/environments/{environment.pk}/",
        "/api/v1/maintenance/summary/",
    ):
        expect(client.get(url), actor, READERS, 200)


@pytest.mark.parametrize("actor", ACTORS)
def test_write_role_matrix(api_client, task, actor, tmp_path):
    client = api_client(actor)
    created = client.post("/api/v1/maintenance/tasks/", {"kind": "refactor", "title": "Split x"}, format="json")
    patched = client.patch(f"/api/v1/maintenance/tasks/{task.pk}/", {"status": "done"}, format="json")
    env = client.post(
        "/api/v1/maintenance/environments/",
        {"name": "svc", "python": sys.executable, "project_dir": str(tmp_path)},
        format="json",
    )
    for response, ok in ((created, 201), (patched, 200), (env, 201)):
        expect(response, actor, ("admin",), ok)
    if actor == "admin":
        task.refresh_from_db()
        assert task.status == "done" and task.closed_at is not None
        assert env.json()["package_manager_detected"] == "pip"


@pytest.mark.parametrize("actor", ACTORS)
def test_run_now_role_matrix(api_client, make_task, actor):
    task = make_task()
    response = api_client(actor).post(f"/api/v1/maintenance/tasks/{task.pk}/run/", {}, format="json")
    expect(response, actor, ("operator", "admin"), 202)
    assert MaintenanceRun.objects.filter(task=task).count() == (1 if actor in ("operator", "admin") else 0)
    if actor in ("operator", "admin"):
        body = response.json()
        assert body["status"] == "queued" and body["trigger"] == "manual" and body["requested_by"] == actor


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approve_and_reject_role_matrix(api_client, waiting_run, actor, decision):
    """A viewer (and a service key) can neither approve nor reject."""
    response = api_client(actor).post(f"/api/v1/maintenance/runs/{waiting_run.pk}/{decision}/")
    expect(response, actor, ("operator", "admin"), 200)
    waiting_run.refresh_from_db()
    if actor in ("operator", "admin"):
        assert waiting_run.status == ("queued" if decision == "approve" else "cancelled")
        assert waiting_run.decided_by.username == actor
    else:
        assert waiting_run.status == "waiting_approval" and waiting_run.decided_by is None


def test_deciding_twice_is_a_conflict(api_client, waiting_run):
    client = api_client("operator")
    assert client.post(f"/api/v1/maintenance/runs/{waiting_run.pk}/reject/").status_code == 200
    again = client.post(f"/api/v1/maintenance/runs/{waiting_run.pk}/approve/")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_run_now_twice_is_a_conflict_and_plan_only_is_kept(api_client, make_task):
    task = make_task()
    client = api_client("operator")
    first = client.post(f"/api/v1/maintenance/tasks/{task.pk}/run/", {"plan_only": True}, format="json")
    assert first.status_code == 202 and first.json()["plan_only"] is True
    second = client.post(f"/api/v1/maintenance/tasks/{task.pk}/run/", {}, format="json")
    assert second.status_code == 409 and "already queued" in second.json()["detail"]
    bad = client.post(f"/api/v1/maintenance/tasks/{task.pk}/run/", {"plan_only": "maybe"}, format="json")
    assert bad.status_code == 400 and "plan_only" in bad.json()


def test_run_now_of_a_refactor_task_is_a_conflict(api_client, task):
    response = api_client("operator").post(f"/api/v1/maintenance/tasks/{task.pk}/run/", {}, format="json")
    assert response.status_code == 409 and "people" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"schedule": "cron", "cron": "99 * * * *"}, "cron"),
        ({"schedule": "cron"}, "cron"),
        ({"schedule": "fortnightly"}, "schedule"),
        ({"environment": None}, "environment"),
        ({"config": {"items": 11}}, "config"),
        ({"config": {"nope": 1, "items": "x"}}, "config"),
        ({"config": [1, 2]}, "config"),
        ({"timeout_seconds": 5}, "timeout_seconds"),
        ({"timeout_seconds": 10**9}, "timeout_seconds"),
        ({"day_of_month": 31}, "day_of_month"),
        ({"weekday": 7}, "weekday"),
        ({"time_of_day": "25:00"}, "time_of_day"),
        ({"kind": "scaling"}, "kind"),
    ],
)
def test_bad_task_input_is_a_400_naming_the_field(api_client, environment, fake_executor, body, field):
    payload = {"kind": "scaling_check", "title": "t", "environment": environment.pk, **body}
    response = api_client("admin").post("/api/v1/maintenance/tasks/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_a_scheduled_task_from_the_api_shows_its_schedule_and_next_runs(api_client, environment, fake_executor):
    payload = {"kind": "scaling_check", "title": "t", "environment": environment.pk, "schedule": "cron",
               "cron": "0 6 * * 1", "config": {"items": 2}}  # fmt: skip
    created = api_client("admin").post("/api/v1/maintenance/tasks/", payload, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["schedule_words"] == "At 06:00, only on Monday (UTC)"
    assert len(body["next_runs"]) == 3 and body["approval_needed"] is False and body["last_run"] is None
    assert body["time_of_day"] == "03:00"
    patched = api_client("admin").patch(f"/api/v1/maintenance/tasks/{body['id']}/", {"cron": "bad"}, format="json")
    assert patched.status_code == 400 and "cron" in patched.json()
    daily = api_client("admin").patch(
        f"/api/v1/maintenance/tasks/{body['id']}/", {"schedule": "daily", "time_of_day": "04:30"}, format="json"
    )
    assert daily.status_code == 200 and daily.json()["schedule_words"] == "Every day at 04:30 UTC"
    assert daily.json()["next_runs"][0].endswith("04:30:00+00:00")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"python": "relative/python"}, "python"),
        ({"python": "/no/such/python"}, "python"),
        ({"project_dir": "/tmp/../etc"}, "project_dir"),
        ({"cleanup_roots": ["relative"]}, "cleanup_roots"),
        ({"cleanup_roots": ["/srv/app/../../etc"]}, "cleanup_roots"),
        ({"cleanup_roots": ["/"]}, "cleanup_roots"),
        ({"cleanup_roots": "/srv"}, "cleanup_roots"),
        ({"verify_command": "pytest -x"}, "verify_command"),
        ({"verify_command": ["pytest", ""]}, "verify_command"),
        ({"package_manager": "conda"}, "package_manager"),
    ],
)
def test_bad_environment_input_is_a_400_naming_the_field(api_client, tmp_path, body, field):
    payload = {"name": "svc", "python": sys.executable, "project_dir": str(tmp_path), **body}
    response = api_client("admin").post("/api/v1/maintenance/environments/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_poetry_is_detected_from_the_project_files(api_client, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "x"\n')
    payload = {"name": "svc", "python": sys.executable, "project_dir": str(tmp_path)}
    body = api_client("admin").post("/api/v1/maintenance/environments/", payload, format="json").json()
    assert (body["package_manager"], body["package_manager_detected"]) == ("auto", "poetry")
    env = Environment.objects.get(pk=body["id"])
    assert env.target().package_manager == "poetry"
    env.package_manager = "pip"
    assert env.target().package_manager == "pip"


def test_run_filters(api_client, make_task, environment):
    one, two = make_task(title="one"), make_task(title="two", config={"outcome": "failed"})
    for t in (one, two):
        run_execute(run_id=run_queue(task=t, trigger="manual").pk)
    client = api_client("viewer")

    def count(query):
        response = client.get(f"/api/v1/maintenance/runs/?{query}")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count("") == 2
    assert count(f"task={one.pk}") == 1
    assert count("status=failed") == 1
    assert count("kind=scaling_check") == 2 and count("kind=cleanup") == 0
    assert count(f"environment={environment.pk}") == 2 and count("environment=999") == 0
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert count(f"since={tomorrow}") == 0 and count(f"until={tomorrow}") == 2
    assert client.get("/api/v1/maintenance/runs/?status=nope").status_code == 400
    assert client.get("/api/v1/maintenance/runs/?task=1.5").status_code == 400
    listed = client.get("/api/v1/maintenance/runs/").json()["results"][0]
    assert "log" not in listed and "plan" not in listed


def test_lists_take_a_constant_number_of_queries(api_client, make_task, django_assert_max_num_queries):
    for i in range(15):
        run_execute(run_id=run_queue(task=make_task(title=f"t{i}"), trigger="manual").pk)
    client = api_client("viewer")
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/v1/maintenance/tasks/").json()["results"]) == 15
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/v1/maintenance/runs/").json()["results"]) == 15
    with django_assert_max_num_queries(8):
        client.get("/api/v1/maintenance/environments/")


def test_summary_counts_runs_and_changes(api_client, make_task):
    run_execute(run_id=run_queue(task=make_task(config={"items": 3}), trigger="manual").pk)
    run_execute(run_id=run_queue(task=make_task(config={"items": 2, "outcome": "rolled_back"}), trigger="manual").pk)
    other = make_task(title="odd executor")
    for odd in ({"bytes_freed": "lots"}, {"bytes_freed": -5}, {"bytes_freed": 0.75, "packages": "x"}, {}):
        # As run_finish writes a run: its changes, and their figures in columns.
        MaintenanceRun.objects.create(task=other, trigger="manual", status="partial", created_at=timezone.now(),
                                      changes=odd, **change_figures(odd))  # fmt: skip
    body = api_client("viewer").get("/api/v1/maintenance/summary/?days=7").json()
    assert body["runs_by_status"] == {"succeeded": 1, "rolled_back": 1, "partial": 4}
    # A rolled-back run restored what it changed: only the applied run counts.
    assert body["packages_updated"] == 3 and body["bytes_freed"] == 3072
    assert len(body["days"]) == 7 and body["days"][-1]["statuses"] == {"partial": 4, "rolled_back": 1, "succeeded": 1}
    for bad in ("days=0", "days=367", "days=x", "days="):
        response = api_client("viewer").get(f"/api/v1/maintenance/summary/?{bad}")
        assert response.status_code == 400 and "days" in response.json()


def test_admin_pages_for_tasks(page_client, task):
    assert page_client("admin").get("/admin/maintenance/maintenancetask/").status_code == 200
    assert page_client("admin").get(f"/admin/maintenance/maintenancetask/{task.pk}/change/").status_code == 200
    assert page_client("viewer").get("/admin/maintenance/maintenancetask/").status_code == 302


def test_an_environment_in_use_is_not_deleted(api_client, make_task, environment):
    make_task(title="Keeps it")
    response = api_client("admin").delete(f"/api/v1/maintenance/environments/{environment.pk}/")
    assert response.status_code == 409 and "Keeps it" in response.json()["detail"]
    assert Environment.objects.filter(pk=environment.pk).exists()
