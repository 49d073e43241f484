"""OSV matching (maintenance/osv.py) on small advisory directories written by the tests, and on
real advisory files of the PyPA advisory database (a few copied beside the tests, or a checkout
named by PORTAL_TEST_ADVISORY_DB)."""

import json
import os
import textwrap
from pathlib import Path

import pytest

from maintenance.osv import (
    AdvisoryError,
    Finding,
    advisories_load,
    advisories_match,
    advisory_parse,
    findings_merge,
    normalize,
    pip_audit_parse,
)


def _osv(ident, name, *, events=None, versions=(), aliases=(), summary="", ecosystem="PyPI", **extra):
    affected = {"package": {"ecosystem": ecosystem, "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions:
        affected["versions"] = list(versions)
    return {"id": ident, "aliases": list(aliases), "summary": summary, "affected": [affected], **extra}


def _match(doc, version, name=None):
    advisory = advisory_parse(doc)
    return advisories_match({name or doc["affected"][0]["package"]["name"]: version}, [advisory])


@pytest.mark.parametrize(
    ("version", "affected"),
    [("0.9", False), ("1.0", True), ("1.4.2", True), ("1.5", False), ("2.0", False), ("2.1", True), ("3.0", True)],
)
def test_introduced_and_fixed_ranges(version, affected):
    doc = _osv("PYSEC-1", "demo", events=[{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.1"}])
    assert bool(_match(doc, version)) is affected


@pytest.mark.parametrize(("version", "affected"), [("0.1", True), ("1.11.0", True), ("1.11.1", False)])
def test_last_affected_is_inclusive(version, affected):
    doc = _osv("PYSEC-2", "py", events=[{"introduced": "0"}, {"last_affected": "1.11.0"}])
    assert bool(_match(doc, version)) is affected


def test_explicit_versions_match_without_ranges_and_normalized():
    doc = _osv("PYSEC-3", "Demo_Pkg", versions=["1.0", "1.2.0"])
    assert _match(doc, "1.0", name="demo-pkg")
    assert _match(doc, "1.2", name="DEMO.pkg")  # 1.2 == 1.2.0 under PEP 440
    assert not _match(doc, "1.1", name="demo-pkg")


def test_events_are_evaluated_in_version_order_whatever_the_file_says():
    doc = _osv("PYSEC-4", "demo", events=[{"fixed": "2.0"}, {"introduced": "0"}])
    assert _match(doc, "1.9") and not _match(doc, "2.0")


def test_fix_versions_are_the_fixes_after_the_installed_version():
    doc = _osv(
        "PYSEC-5", "demo", events=[{"introduced": "0"}, {"fixed": "1.2"}, {"introduced": "1.5"}, {"fixed": "1.7"}]
    )
    (finding,) = _match(doc, "1.0")
    assert finding.fix_versions == ["1.2", "1.7"] and finding.fix_exists
    (later,) = _match(doc, "1.6")
    assert later.fix_versions == ["1.7"]


def test_no_fix_when_every_version_is_affected():
    (finding,) = _match(_osv("PYSEC-6", "demo", events=[{"introduced": "0"}]), "9.9")
    assert finding.fix_versions == [] and not finding.fix_exists


def test_other_ecosystems_git_ranges_and_withdrawn_advisories_do_not_match():
    assert not _match(_osv("X-1", "demo", events=[{"introduced": "0"}], ecosystem="npm"), "1.0")
    git = _osv("X-2", "demo")
    git["affected"][0]["ranges"] = [{"type": "GIT", "events": [{"introduced": "0"}]}]
    assert not _match(git, "1.0")
    assert not _match(_osv("X-3", "demo", events=[{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z"), "1.0")


def test_a_broken_document_names_what_is_wrong():
    with pytest.raises(AdvisoryError, match="no id"):
        advisory_parse({"affected": []})
    with pytest.raises(AdvisoryError, match=r"affected\[0\].package"):
        advisory_parse({"id": "X", "affected": [{"package": {}}]})
    with pytest.raises(AdvisoryError, match="unknown event"):
        advisory_parse(_osv("X", "demo", events=[{"broken": "1"}]))


def test_aliases_are_merged_into_one_finding_even_through_a_third_id():
    docs = [
        _osv("PYSEC-2024-1", "demo", events=[{"introduced": "0"}, {"fixed": "1.1"}], aliases=["CVE-2024-9"]),
        _osv("GHSA-aaaa-bbbb-cccc", "demo", events=[{"introduced": "0"}, {"fixed": "1.1.1"}], aliases=["CVE-2024-9"]),
        _osv("OSV-7", "demo", versions=["1.0"], aliases=["GHSA-aaaa-bbbb-cccc"], summary="the same bug"),
        _osv("PYSEC-2024-2", "demo", versions=["1.0"], summary="another bug"),
    ]
    found = advisories_match({"demo": "1.0"}, [advisory_parse(d) for d in docs])
    assert len(found) == 4
    merged = findings_merge(found)
    assert [f.id for f in merged] == ["PYSEC-2024-1", "PYSEC-2024-2"]
    assert merged[0].aliases == ["CVE-2024-9", "GHSA-aaaa-bbbb-cccc", "OSV-7"]
    assert merged[0].fix_versions == ["1.1", "1.1.1"]
    assert merged[0].summary == "the same bug"


def test_pip_audit_and_directory_findings_merge_by_alias():
    audit = Finding("demo", "1.0", "GHSA-x", ["CVE-1"], "from pip-audit", ["1.1"], ["pip-audit"])
    offline = Finding("demo", "1.0", "PYSEC-9", ["CVE-1"], "", ["1.1"], ["osv-directory"])
    (merged,) = findings_merge([audit, offline])
    assert merged.id == "PYSEC-9" and merged.sources == ["osv-directory", "pip-audit"]
    assert merged.summary == "from pip-audit"


def test_yaml_versions_stay_strings(tmp_path):
    # Unquoted 1.10 would be the float 1.1 with a resolving loader.
    folder = tmp_path / "vulns" / "demo"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2020-1.yaml").write_text(
        textwrap.dedent(
            """\
            id: PYSEC-2020-1
            aliases:
            - CVE-2020-1
            details: Demo before 1.10 leaks.
            affected:
            - package:
                ecosystem: PyPI
                name: Demo
              ranges:
              - type: ECOSYSTEM
                events:
                - introduced: "0"
                - fixed: 1.10
              versions:
              - 1.9
            """
        )
    )
    loaded = advisories_load(tmp_path, ["demo"])
    assert loaded.errors == []
    (advisory,) = loaded.advisories
    assert not advisories_match({"demo": "1.10"}, [advisory])
    (finding,) = advisories_match({"demo": "1.9"}, [advisory])
    assert finding.fix_versions == ["1.10"] and finding.summary == "Demo before 1.10 leaks."


def test_only_the_installed_packages_folders_are_read_and_bad_files_are_listed(tmp_path):
    for name in ("wanted", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "A.json").write_text(json.dumps(_osv(f"ID-{name}", name, versions=["1.0"])))
    (tmp_path / "wanted" / "broken.yaml").write_text("id: [unclosed")
    (tmp_path / "FLAT-1.json").write_text(json.dumps(_osv("FLAT-1", "wanted", versions=["1.0"])))
    loaded = advisories_load(tmp_path, ["Wanted"])
    assert sorted(a.id for a in loaded.advisories) == ["FLAT-1", "ID-wanted"]
    assert len(loaded.errors) == 1 and "broken.yaml" in loaded.errors[0]


def test_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(AdvisoryError, match="not a directory"):
        advisories_load(tmp_path / "absent", ["x"])


def test_pip_audit_json_with_vulnerabilities_and_skipped_dependencies():
    data = {
        "dependencies": [
            {"name": "Demo_Pkg", "version": "1.0", "vulns": [
                {"id": "PYSEC-1", "fix_versions": ["1.1"], "aliases": ["CVE-1", "PYSEC-1"], "description": "bad"}
            ]},
            {"name": "clean", "version": "2.0", "vulns": []},
            {"name": "private-thing", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        ],
        "fixes": [],
    }  # fmt: skip
    result = pip_audit_parse(data)
    (finding,) = result.findings
    assert (finding.package, finding.id, finding.aliases, finding.fix_versions) == (
        "demo-pkg",
        "PYSEC-1",
        ["CVE-1"],
        ["1.1"],
    )
    assert result.audited == {"demo-pkg": "1.0", "clean": "2.0"}
    assert result.skipped == [
        {"package": "private-thing", "reason": "Dependency not found on PyPI and could not be audited"}
    ]
    with pytest.raises(AdvisoryError):
        pip_audit_parse({"nothing": []})


def test_normalize():
    assert normalize("Foo_Bar.baz--Qux") == "foo-bar-baz-qux"


# Real advisory files: a few copied from the PyPA advisory database (see its README), or a whole
# checkout named by PORTAL_TEST_ADVISORY_DB.
REAL_DB = os.environ.get("PORTAL_TEST_ADVISORY_DB") or str(Path(__file__).parent / "advisory_snapshot")


def test_real_snapshot_finds_an_old_requests_pin():
    loaded = advisories_load(REAL_DB, ["requests", "jinja2"])
    assert loaded.advisories, "no advisories read for requests"
    merged = findings_merge(advisories_match({"requests": "2.2.1", "jinja2": "3.1.4"}, loaded.advisories))
    ids = {f.id for f in merged}
    # Proxy-Authorization sent on redirects, fixed in requests 2.3.0.
    assert "PYSEC-2014-14" in ids
    leak = next(f for f in merged if f.id == "PYSEC-2014-14")
    assert "2.3.0" in leak.fix_versions and leak.fix_exists
    assert all(f.package == "requests" for f in merged)  # the snapshot predates jinja2 3.1.4's advisories
    assert not findings_merge(advisories_match({"requests": "2.32.3"}, loaded.advisories))
