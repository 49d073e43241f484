"""'Scan now' shows progress: the overview polls a JSON status endpoint while a scan is queued
or running and reloads when it is done; numbers and effort are shown rounded for people."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from codehealth.models import CodeScan, DebtItem
from codehealth.scanning import scan_create, scan_run
from portal.templatetags.humanize_ops import minutes_human

READ = {"anonymous": 302, "norole": 403, "viewer": 200, "operator": 200, "admin": 200}


def status_url(scan):
    return f"/codehealth/{scan.repository_id}/scans/{scan.pk}/status/"


@pytest.mark.parametrize("actor", READ)
def test_status_endpoint_role_matrix(page_client, repository, actor):
    scan = scan_create(repository=repository)
    assert page_client(actor).get(status_url(scan)).status_code == READ[actor]


def test_status_follows_a_scan_from_queued_to_done(page_client, repository, tree):
    tree({"a.py": "def f():\n    return 1\n"})
    client = page_client("viewer")
    scan = scan_create(repository=repository, trigger=CodeScan.Trigger.ADMIN)
    queued = client.get(status_url(scan))
    assert queued["Cache-Control"].startswith("max-age=0")  # polled: never cached
    assert queued.json() | {"queued_at": None} == {
        "id": scan.pk, "status": "queued", "done": False, "queued_at": None, "started_at": None,
        "finished_at": None, "seconds": None, "files": 0, "gate": "none", "error": "",
    }  # fmt: skip
    started = timezone.now()
    CodeScan.objects.filter(pk=scan.pk).update(status="running", started_at=started)
    with time_machine.travel(started + timedelta(seconds=12.5), tick=False):
        running = client.get(status_url(scan)).json()
    assert running["status"] == "running" and running["done"] is False and running["seconds"] == 12.5
    CodeScan.objects.filter(pk=scan.pk).update(status="queued", started_at=None)
    scan_run(scan=scan, workers=1)
    done = client.get(status_url(scan)).json()
    assert done["status"] == "succeeded" and done["done"] is True and done["files"] == 1
    assert done["finished_at"] and done["seconds"] is not None


def test_status_of_another_repositorys_scan_is_404(page_client, repository, tmp_path):
    scan = scan_create(repository=repository)
    other = type(repository).objects.create(name="other", path=str(tmp_path))
    assert page_client("viewer").get(f"/codehealth/{other.pk}/scans/{scan.pk}/status/").status_code == 404


def test_overview_shows_progress_while_a_scan_is_in_progress(page_client, scanned, task_queue):
    repository, _ = scanned
    client = page_client("operator")
    html = client.get(f"/codehealth/{repository.pk}/").content.decode()
    assert 'id="scan-progress"' not in html and "scan_progress.js" not in html
    response = client.post(f"/codehealth/{repository.pk}/scan/", follow=True)
    html = response.content.decode()
    queued = CodeScan.objects.filter(repository=repository, status="queued").get()
    assert "this page updates when it has finished" in html
    assert f'data-scan-status-url="{status_url(queued)}"' in html
    assert f"Scan #{queued.pk} is queued" in html and "scan_progress.js" in html
    assert '<meta http-equiv="refresh"' in html  # inside <noscript>: without JavaScript it still updates


def test_debt_effort_is_shown_in_hours_and_days(page_client, scanned):
    repository, _ = scanned
    item = DebtItem.objects.filter(repository=repository, status="open").first()
    DebtItem.objects.filter(pk=item.pk).update(remediation_minutes=3 * 24 * 60 + 4 * 60)
    html = page_client("viewer").get(f"/codehealth/{repository.pk}/debt/").content.decode()
    assert "3 d 4 h" in html and 'title="4560 minutes"' in html
    total = sum(
        DebtItem.objects.filter(repository=repository, status="open").values_list("remediation_minutes", flat=True)
    )
    overview = page_client("viewer").get(f"/codehealth/{repository.pk}/").content.decode()
    assert f"{minutes_human(total)} to fix" in overview and minutes_human(total).startswith("3 d ")


def test_debt_filters_are_checkboxes_in_a_form(page_client, scanned):
    repository, _ = scanned
    html = page_client("viewer").get(f"/codehealth/{repository.pk}/debt/?severity=high").content.decode()
    assert '<form method="get" class="card filters" id="debt-filters">' in html
    assert 'type="checkbox" name="severity" value="high"' in html and "checked" in html
    assert 'type="checkbox" name="kind" value="fixme"' in html
    assert '<select name="status"' in html
