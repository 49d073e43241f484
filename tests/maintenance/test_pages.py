"""Maintenance pages per role: task list, run detail with approve/reject, vulnerabilities; admin."""

import pytest
from django.utils import timezone

from maintenance.models import Environment, MaintenanceRun, MaintenanceTask
from maintenance.runner import run_execute, run_queue

PAGE_ACTORS = ("anonymous", "viewer", "operator", "admin")


@pytest.fixture
def waiting_run(make_task):
    run = run_queue(task=make_task(title="Update deps", requires_approval=True, config={"items": 2}), trigger="manual")
    assert run_execute(run_id=run.pk) == "waiting_approval"
    return run


def audit_run(task, vulns, *, incomplete=(), status="succeeded"):
    now = timezone.now()
    return MaintenanceRun.objects.create(
        task=task, trigger="schedule", status=status, created_at=now, finished_at=now,
        changes={"vulnerabilities": vulns, "incomplete": list(incomplete)},
    )  # fmt: skip


def expect_page(response, actor, ok=200):
    if actor == "anonymous":
        assert response.status_code == 302 and "/login" in response["Location"]
    else:
        assert response.status_code == ok, response.status_code


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_pages_role_matrix(page_client, waiting_run, actor):
    client = page_client(actor)
    for url in ("/maintenance/", f"/maintenance/runs/{waiting_run.pk}/", "/maintenance/vulnerabilities/"):
        expect_page(client.get(url), actor)


def test_a_service_key_opens_no_page(client, other_key, waiting_run):
    for url in ("/maintenance/", f"/maintenance/runs/{waiting_run.pk}/"):
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
        assert response.status_code == 302 and "/login" in response["Location"]
    response = client.post(f"/maintenance/runs/{waiting_run.pk}/approve/", HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    assert response.status_code == 302
    waiting_run.refresh_from_db()
    assert waiting_run.status == "waiting_approval"


def test_the_task_list_shows_schedule_next_run_and_last_result(page_client, make_task, waiting_run):
    make_task(title="Nightly", schedule="daily")
    body = page_client("viewer").get("/maintenance/").content.decode()
    assert "Nightly" in body and "Every day at 03:00 UTC" in body
    assert "Update deps" in body and "waiting_approval" in body and "Waiting for approval" in body
    assert "Run now" not in body  # a viewer gets no button
    assert "Run now" in page_client("operator").get("/maintenance/").content.decode()


@pytest.mark.parametrize("actor", PAGE_ACTORS)
def test_run_now_from_the_page(page_client, make_task, actor):
    task = make_task()
    response = page_client(actor).post(f"/maintenance/tasks/{task.pk}/run/", {"plan_only": "1"})
    runs = MaintenanceRun.objects.filter(task=task)
    if actor in ("operator", "admin"):
        run = runs.get()
        assert response.status_code == 302 and response["Location"] == f"/maintenance/runs/{run.pk}/"
        assert run.plan_only and run.requested_by.username == actor
    else:
        expect_page(response, actor, ok=403)
        assert not runs.exists()


@pytest.mark.parametrize("actor", PAGE_ACTORS)
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approve_and_reject_from_the_run_page(page_client, waiting_run, actor, decision):
    client = page_client(actor)
    page = client.get(f"/maintenance/runs/{waiting_run.pk}/")
    if actor != "anonymous":
        assert ("Approve</button>" in page.content.decode()) == (actor in ("operator", "admin"))
    response = client.post(f"/maintenance/runs/{waiting_run.pk}/{decision}/")
    waiting_run.refresh_from_db()
    if actor in ("operator", "admin"):
        assert response.status_code == 302
        assert waiting_run.status == ("queued" if decision == "approve" else "cancelled")
    else:
        expect_page(response, actor, ok=403)
        assert waiting_run.status == "waiting_approval"


def test_the_run_page_shows_plan_changes_and_log(page_client, make_task):
    run = run_queue(task=make_task(config={"items": 2}), trigger="manual")
    run_execute(run_id=run.pk)
    body = page_client("viewer").get(f"/maintenance/runs/{run.pk}/").content.decode()
    assert "pkg0" in body and "pkg1" in body and "2 change(s)" in body
    assert "applied 2" in body and "2.0\xa0KB" in body  # log and bytes freed


def test_a_get_cannot_decide(page_client, waiting_run):
    assert page_client("operator").get(f"/maintenance/runs/{waiting_run.pk}/approve/").status_code == 405


def test_vulnerabilities_page_lists_reachable_first_from_the_latest_audit(page_client, make_task, environment):
    task = make_task(kind="security_audit", title="Audit")
    audit_run(task, [{"id": "OLD-1", "package": "gone", "version": "0.1", "reachable": True}])
    audit_run(
        task,
        [
            {"id": "PYSEC-2", "package": "alpha", "version": "1.0", "reachable": False, "fix_versions": ["1.1"]},
            {"id": "PYSEC-1", "package": "zeta", "version": "2.0", "reachable": True, "aliases": ["CVE-2020-1"]},
        ],
        incomplete=[{"package": "private-lib", "reason": "not on the index"}],
    )
    audit_run(task, [{"id": "NEWER-FAILED", "package": "x", "version": "1"}], status="failed")
    body = page_client("viewer").get("/maintenance/vulnerabilities/").content.decode()
    assert "OLD-1" not in body and "NEWER-FAILED" not in body  # only the latest completed audit
    assert body.index("PYSEC-1") < body.index("PYSEC-2")  # imported first
    assert "CVE-2020-1" in body and "may be incomplete" in body


def test_list_pages_take_a_constant_number_of_queries(
    page_client, make_task, environment, django_assert_max_num_queries
):
    for i in range(20):
        env = Environment.objects.create(name=f"env{i}", python=environment.python, project_dir=environment.project_dir)
        kind = "security_audit" if i % 2 else "scaling_check"
        task = make_task(title=f"t{i}", schedule="weekly", kind=kind, environment=env)
        audit_run(task, [{"id": f"V-{i}", "package": f"p{i}", "version": "1"}])
    client = page_client("viewer")
    client.get("/maintenance/")  # session and user loaded once
    with django_assert_max_num_queries(14):
        assert client.get("/maintenance/").status_code == 200
    with django_assert_max_num_queries(10):
        body = client.get("/maintenance/vulnerabilities/").content.decode()
    assert body.count("V-") >= 10


def test_refactor_to_dos_are_listed_when_asked_for(page_client, db):
    now = timezone.now()
    MaintenanceTask.objects.create(kind="refactor", title="Split big()", created_at=now, updated_at=now)
    client = page_client("viewer")
    assert "Split big()" not in client.get("/maintenance/").content.decode()
    assert "Split big()" in client.get("/maintenance/?kind=refactor").content.decode()


def test_nav_links_to_maintenance(page_client):
    assert 'href="/maintenance/"' in page_client("viewer").get("/").content.decode()


def test_admin_pages(page_client, waiting_run, environment):
    client = page_client("admin")
    for url in (
        "/admin/maintenance/environment/",
        f"/admin/maintenance/environment/{environment.pk}/change/",
        "/admin/maintenance/maintenancetask/?kind__exact=scaling_check&enabled__exact=1",
        f"/admin/maintenance/maintenancetask/{waiting_run.task_id}/change/",
        "/admin/maintenance/maintenancerun/?status__exact=waiting_approval",
        f"/admin/maintenance/maintenancerun/{waiting_run.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    assert page_client("operator").get("/admin/maintenance/maintenancerun/").status_code == 302


def test_the_admin_form_refuses_an_invalid_cron_naming_the_field(page_client, environment, fake_executor):
    form = {
        "kind": "scaling_check", "title": "t", "description": "", "environment": environment.pk, "status": "open",
        "priority": "normal", "enabled": "on", "schedule": "cron", "cron": "70 * * * *", "time_of_day": "03:00",
        "weekday": "0", "day_of_month": "1", "config": "{}", "timeout_seconds": "1800",
    }  # fmt: skip
    response = page_client("admin").post("/admin/maintenance/maintenancetask/add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "cron" in errors and "not a valid cron" in errors["cron"][0]
    form["cron"] = "0 7 * * *"
    assert page_client("admin").post("/admin/maintenance/maintenancetask/add/", form).status_code == 302
    assert MaintenanceTask.objects.get(title="t").cron == "0 7 * * *"
