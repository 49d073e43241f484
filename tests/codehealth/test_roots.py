"""Repository paths set on the web must lie inside CODEHEALTH_ALLOWED_ROOTS, symlinks resolved,
when registered (admin and API) and again when scanned."""

import os
from datetime import UTC, datetime

import pytest

from codehealth.models import CodeRepository, CodeScan
from codehealth.scanning import scan_create, scan_run
from codehealth.tasks import scan_repository
from portal import settings as portal_settings

pytestmark = pytest.mark.django_db
URL = "/api/v1/codehealth/repositories/"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def roots(settings, tmp_path):
    """An allowed root with a project in it, and a directory outside every root."""
    allowed, outside = tmp_path / "repos", tmp_path / "elsewhere"
    (allowed / "shop").mkdir(parents=True)
    (allowed / "shop" / "app.py").write_text("x = 1\n")
    outside.mkdir()
    (outside / "secret.py").write_text("PASSWORD = 'x'\n")
    settings.CODEHEALTH_ALLOWED_ROOTS = [str(allowed)]
    return allowed, outside


def test_the_default_roots_are_the_portal_and_its_repos_folder():
    # The module's own value: the autouse fixture of this folder widens django.conf.settings.
    if "CODEHEALTH_ALLOWED_ROOTS" in os.environ:
        pytest.skip("CODEHEALTH_ALLOWED_ROOTS is set in the environment")
    base = portal_settings.BASE_DIR
    assert [str(base), str(base / "repos")] == portal_settings.CODEHEALTH_ALLOWED_ROOTS


@pytest.mark.parametrize("path", ["/", "/etc", "/etc/../etc", "relative/path"])
def test_the_api_refuses_paths_outside_the_roots(api_client, roots, path):
    response = api_client("admin").post(URL, {"name": "x", "path": path}, format="json")
    assert response.status_code == 400 and "path" in response.json()
    assert not CodeRepository.objects.exists()


def test_the_api_refuses_a_symlink_that_leads_outside(api_client, roots):
    allowed, outside = roots
    (allowed / "sneaky").symlink_to(outside)
    response = api_client("admin").post(URL, {"name": "x", "path": str(allowed / "sneaky")}, format="json")
    assert response.status_code == 400
    assert "leads to" in response.json()["path"][0] and str(outside) in response.json()["path"][0]


def test_the_api_accepts_a_path_inside_a_root(api_client, roots):
    allowed, _ = roots
    response = api_client("admin").post(URL, {"name": "shop", "path": str(allowed / "shop")}, format="json")
    assert response.status_code == 201, response.json()
    patched = api_client("admin").patch(f"{URL}{response.json()['id']}/", {"path": "/etc"}, format="json")
    assert patched.status_code == 400 and CodeRepository.objects.get().path == str(allowed / "shop")


def test_the_admin_form_refuses_paths_outside_the_roots(page_client, roots):
    form = {"name": "x", "path": "/etc", "excludes": "[]", "use_default_excludes": "on", "thresholds": "{}"}
    response = page_client("admin").post("/admin/codehealth/coderepository/add/", form)
    assert response.status_code == 200 and "CODEHEALTH_ALLOWED_ROOTS" in response.content.decode()
    assert not CodeRepository.objects.exists()


def test_a_scan_refuses_a_directory_that_became_a_symlink_outside(roots):
    allowed, outside = roots
    (allowed / "later").mkdir()
    repository = CodeRepository.objects.create(name="later", path=str(allowed / "later"))
    (allowed / "later").rmdir()
    (allowed / "later").symlink_to(outside)
    scan = CodeScan.objects.create(repository=repository, trigger=CodeScan.Trigger.API, queued_at=NOW)
    assert scan_repository(scan.pk) == "failed"
    scan.refresh_from_db()
    assert "outside" in scan.error and scan.files == 0
    assert not repository.file_versions.exists()


def test_a_scan_refuses_a_repository_registered_before_the_roots_were_narrowed(roots, settings):
    allowed, _ = roots
    repository = CodeRepository.objects.create(name="shop", path=str(allowed / "shop"))
    settings.CODEHEALTH_ALLOWED_ROOTS = ["/nowhere"]
    scan = scan_run(scan=scan_create(repository=repository, trigger=CodeScan.Trigger.SCHEDULE), workers=1)
    assert scan.status == "failed" and "CODEHEALTH_ALLOWED_ROOTS" in scan.error


def test_the_command_line_is_not_limited(roots):
    _, outside = roots
    repository = CodeRepository.objects.create(name="cli", path=str(outside))
    scan = scan_run(scan=scan_create(repository=repository, trigger=CodeScan.Trigger.COMMAND), workers=1)
    assert scan.status == "succeeded" and scan.files == 1
