"""The security_audit executor against a real virtual environment (tinyalpha 1.0, tinybeta 1.0,
see envs.py): offline OSV matching, pip-audit's JSON (a real pip-audit run whose advisory service
is unreachable, and a recorded answer with skipped packages), reachability through a small
repository, ranking and the incomplete outcome."""

import json
import subprocess

import pytest
from rest_framework import serializers

from codehealth.models import CodeRepository
from codehealth.scanning import scan_create, scan_run
from maintenance.executors.base import PARTIAL, SUCCEEDED, Target, config_validate
from maintenance.executors.security_audit import SecurityAudit
from maintenance.reachability import imports_parse, repository_imports
from tests.maintenance.envs import run_context
from tests.support import free_port

KIND = "security_audit"
SKIPPED = "Dependency not found on PyPI and could not be audited: tinybeta (1.0)"


def _osv(ident, name, events, aliases=(), summary=""):
    return {
        "id": ident,
        "aliases": list(aliases),
        "summary": summary,
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
    }


@pytest.fixture
def advisory_db(tmp_path, settings):
    root = tmp_path / "advisories" / "vulns"
    for name, ident, events, aliases, summary in [
        ("tinyalpha", "PYSEC-2026-1", [{"introduced": "0"}, {"fixed": "1.1"}], ["CVE-2026-11"], "alpha leaks"),
        ("tinyalpha", "GHSA-aaaa-bbbb-cccc", [{"introduced": "0.5"}, {"fixed": "1.1"}], ["CVE-2026-11"], ""),
        ("tinybeta", "PYSEC-2026-2", [{"introduced": "0"}, {"fixed": "1.0.1"}], [], "beta crashes"),
        ("tinybeta", "PYSEC-2026-3", [{"introduced": "2.0"}], [], "not this version"),
    ]:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{ident}.json").write_text(json.dumps(_osv(ident, name, events, aliases, summary)))
    settings.PORTAL_ADVISORY_DB = str(root.parent)
    return root


def _audit(env, config=None, **target):
    values = {"name": "shop", "python": env.python, "project_dir": str(env.project), "package_manager": "pip"}
    values.update(target)
    ctx, lines = run_context(Target(**values), config_validate(KIND, config or {}))
    executor = SecurityAudit()
    return executor.apply(ctx, executor.plan(ctx)), lines


def test_offline_advisories_find_each_vulnerability_once_with_fixes(readonly_venv, advisory_db):
    outcome, _ = _audit(readonly_venv, {"pip_audit": False})
    assert outcome.status == SUCCEEDED
    rows = outcome.changes["vulnerabilities"]
    assert [(r["package"], r["id"]) for r in rows] == [("tinyalpha", "PYSEC-2026-1"), ("tinybeta", "PYSEC-2026-2")]
    alpha = rows[0]
    assert alpha["aliases"] == ["CVE-2026-11", "GHSA-aaaa-bbbb-cccc"]
    assert alpha["fix_versions"] == ["1.1"] and alpha["fix_exists"] and alpha["summary"] == "alpha leaks"
    assert alpha["reachable"] is None  # no repository attached
    assert outcome.changes["proposed_updates"] == [
        {"name": "tinyalpha", "from": "1.0", "to": "1.1", "fixes": ["PYSEC-2026-1"]},
        {"name": "tinybeta", "from": "1.0", "to": "1.0.1", "fixes": ["PYSEC-2026-2"]},
    ]
    assert outcome.summary.startswith("2 vulnerabilities in 2 package(s)")


def test_ignored_ids_match_aliases_too(readonly_venv, advisory_db):
    outcome, _ = _audit(readonly_venv, {"pip_audit": False, "ignore_ids": ["CVE-2026-11"]})
    assert [r["id"] for r in outcome.changes["vulnerabilities"]] == ["PYSEC-2026-2"]


def test_reachability_ranks_the_imported_package_first(readonly_venv, advisory_db, tmp_path, settings, db):
    repo_dir = tmp_path / "repo"
    (repo_dir / "shop").mkdir(parents=True)
    (repo_dir / "shop" / "__init__.py").write_text("")
    (repo_dir / "shop" / "pay.py").write_text("def charge():\n    import tinybeta.core\n    return tinybeta\n")
    (repo_dir / "shop" / "notes.py").write_text("'''import tinyalpha is only text here'''\nfrom . import pay\n")
    settings.CODEHEALTH_ALLOWED_ROOTS = [str(tmp_path)]
    repository = CodeRepository.objects.create(name="shop", path=str(repo_dir))
    outcome, _ = _audit(readonly_venv, {"pip_audit": False}, repository_id=repository.pk)
    rows = outcome.changes["vulnerabilities"]
    assert [(r["package"], r["reachable"]) for r in rows] == [("tinybeta", True), ("tinyalpha", False)]
    assert rows[0]["imported_by"] == ["shop/pay.py"]
    assert "1 in imported code" in outcome.summary


def test_imports_parse_reads_nested_and_absolute_imports_only():
    source = (
        "import a.b, c\nfrom d.e import f\nfrom . import g\n"
        "def h():\n    from i import j\ntry:\n    import k\nexcept ImportError:\n    pass\n"
    )
    assert imports_parse(source) == {"a", "c", "d", "i", "k"}
    assert imports_parse("def broken(:\n") == set()


def test_repository_imports_parse_an_unscanned_repository_and_read_a_scanned_ones(tmp_path, settings, db):
    (tmp_path / "app.py").write_text("import requests\n")
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.py").write_text("import yaml\n")
    settings.CODEHEALTH_ALLOWED_ROOTS = [str(tmp_path)]
    repository = CodeRepository.objects.create(name="app", path=str(tmp_path))
    assert repository_imports(repository.pk) == {"requests": ["app.py"]}
    (tmp_path / "app.py").write_text("import httpx\n")
    scan_run(scan=scan_create(repository=repository), workers=1)
    assert repository_imports(repository.pk) == {"httpx": ["app.py"]}  # what the scan recorded


@pytest.mark.slow
def test_a_real_pip_audit_that_cannot_reach_its_service_is_incomplete(readonly_venv, monkeypatch, settings):
    settings.PORTAL_ADVISORY_DB = ""
    # A proxy nobody listens on: the advisory service is unreachable, and no request leaves the machine.
    proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    outcome, lines = _audit(readonly_venv)
    assert outcome.status == PARTIAL
    assert outcome.summary.startswith("Incomplete: 4 of 4 package(s) could not be audited")
    assert "No known vulnerabilities found" not in outcome.summary.split(".")[0]
    packages = {i["package"] for i in outcome.changes["incomplete"]}
    assert packages == {"pip", "setuptools", "tinyalpha", "tinybeta"}
    assert "advisory service unreachable" in outcome.changes["incomplete"][0]["reason"]
    assert any("pip_audit -f json" in line for line in lines)


def _recorded_pip_audit(monkeypatch, answer: dict, returncode: int = 1):
    """pip-audit's answer as recorded (the one edge stubbed: its online service)."""
    import maintenance.executors.security_audit as module

    real = module.run_logged

    def fake(ctx, args, **kwargs):
        if "pip_audit" not in args:
            return real(ctx, args, **kwargs)
        assert kwargs["env"]["PIPAPI_PYTHON_LOCATION"] == ctx.target.python
        return subprocess.CompletedProcess(args, returncode, json.dumps(answer), "")

    monkeypatch.setattr(module, "run_logged", fake)


def test_pip_audit_skipped_packages_make_the_audit_incomplete(readonly_venv, monkeypatch, settings):
    settings.PORTAL_ADVISORY_DB = ""
    answer = {
        "dependencies": [
            {"name": "tinyalpha", "version": "1.0", "vulns": [
                {"id": "GHSA-aaaa-bbbb-cccc", "fix_versions": ["1.1"], "aliases": ["CVE-2026-11"],
                 "description": "leak"}
            ]},
            {"name": "tinybeta", "skip_reason": SKIPPED},
            {"name": "pip", "version": "23.2.1", "vulns": []},
            {"name": "setuptools", "version": "65.5.0", "vulns": []},
        ],
        "fixes": [],
    }  # fmt: skip
    _recorded_pip_audit(monkeypatch, answer)
    outcome, _ = _audit(readonly_venv)
    assert outcome.status == PARTIAL
    assert outcome.changes["incomplete"] == [{"package": "tinybeta", "reason": f"pip-audit: {SKIPPED}"}]
    assert outcome.summary.startswith("Incomplete: 1 of 4 package(s) could not be audited. 1 vulnerability")
    (row,) = outcome.changes["vulnerabilities"]
    assert (row["id"], row["sources"]) == ("GHSA-aaaa-bbbb-cccc", ["pip-audit"])


def test_both_sources_merge_by_alias(readonly_venv, monkeypatch, advisory_db):
    answer = {
        "dependencies": [
            {"name": "tinyalpha", "version": "1.0", "vulns": [
                {"id": "GHSA-zzzz-yyyy-xxxx", "fix_versions": ["1.1"], "aliases": ["CVE-2026-11"], "description": ""}
            ]},
            {"name": "tinybeta", "version": "1.0", "vulns": []},
            {"name": "pip", "version": "23.2.1", "vulns": []},
            {"name": "setuptools", "version": "65.5.0", "vulns": []},
        ],
        "fixes": [],
    }  # fmt: skip
    _recorded_pip_audit(monkeypatch, answer)
    outcome, _ = _audit(readonly_venv)
    assert outcome.status == SUCCEEDED
    alpha = outcome.changes["vulnerabilities"][0]
    assert alpha["id"] == "PYSEC-2026-1" and "GHSA-zzzz-yyyy-xxxx" in alpha["aliases"]
    assert alpha["sources"] == ["osv-directory", "pip-audit"]
    assert outcome.changes["vulnerability_count"] == 2


def test_an_unreadable_advisory_directory_is_incomplete(readonly_venv, settings, tmp_path):
    settings.PORTAL_ADVISORY_DB = str(tmp_path / "absent")
    outcome, _ = _audit(readonly_venv, {"pip_audit": False})
    assert outcome.status == PARTIAL and outcome.summary.startswith("Incomplete: 4 of 4")


def test_no_source_at_all_is_refused(readonly_venv, settings):
    settings.PORTAL_ADVISORY_DB = ""
    with pytest.raises(ValueError, match="No advisory source"):
        _audit(readonly_venv, {"pip_audit": False})


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"vulnerability_service": "nvd"}, "vulnerability_service"),
        ({"pip_audit_timeout_seconds": 1}, "pip_audit_timeout_seconds"),
    ],
)
def test_config_errors_name_the_field(config, field):
    with pytest.raises(serializers.ValidationError) as caught:
        config_validate(KIND, config)
    assert field in caught.value.detail
