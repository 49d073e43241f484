"""Cleanup: what it finds, and that nothing outside the cleanup roots is ever touched — `..` and
absolute globs, a symlink pointing outside a root, a root that is itself a symlink, a path
swapped for a link between plan and apply."""

import gzip
import os
import time

import pytest
from rest_framework import serializers

from maintenance.cleanup_scan import Globs, PatternError, Rules, glob_check, plan_cleanup
from maintenance.executors.base import RunContext, Target, config_validate
from maintenance.executors.cleanup import CleanupExecutor

OLD = time.time() - 30 * 86400


def write(path, data=b"x" * 100, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime:
        os.utime(path, (mtime, mtime))
    return path


def snapshot(directory) -> dict[str, bytes]:
    """Every file under directory (links as their target text), to prove nothing changed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                found[path] = ("link:" + os.readlink(path)).encode()
            elif os.path.isfile(path):
                with open(path, "rb") as file:
                    found[path] = file.read()
    return found


def context(roots, **config) -> RunContext:
    target = Target(name="app", python="/usr/bin/python3", project_dir="/srv/app", package_manager="pip",
                    cleanup_roots=tuple(str(r) for r in roots))  # fmt: skip
    lines: list[str] = []
    ctx = RunContext(target=target, config=config_validate("cleanup", config), log=lines.append,
                     deadline=time.monotonic() + 60)  # fmt: skip
    ctx.lines = lines
    return ctx


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "app"
    outside = tmp_path / "outside"
    write(root / "pkg/__pycache__/mod.cpython-311.pyc", b"c" * 300)
    write(root / "pkg/__pycache__/other.cpython-311.pyc", b"c" * 200)
    write(root / "pkg/mod.py", b"print(1)\n")
    write(root / "stray.pyc", b"s" * 50)
    write(root / "logs/app.log", b"L" * 4000, mtime=OLD)
    write(root / "logs/new.log", b"N" * 100)  # too young
    write(root / "logs/old.log.gz", b"z", mtime=OLD)  # already compressed
    write(root / "tmp/a.tmp", b"t" * 10)
    write(outside / "secret.log", b"keep", mtime=OLD)
    write(outside / "x.pyc", b"keep")
    write(outside / "__pycache__/y.pyc", b"keep")
    # A link inside the root pointing outside: neither followed nor removed.
    os.symlink(outside, root / "link_to_outside")
    os.symlink(outside / "secret.log", root / "logs/linked.log")
    return root, outside


def test_plan_lists_items_with_sizes_and_touches_nothing(layout):
    root, _ = layout
    before = snapshot(root.parent)
    ctx = context([root], log_globs=["*.log"], temp_globs=["tmp/*.tmp"], log_action="delete")
    plan = CleanupExecutor().plan(ctx)
    found = {(i["kind"], os.path.relpath(i["path"], root), i["bytes"]) for i in plan.items}
    assert found == {
        ("pycache", "pkg/__pycache__", 500),
        ("pyc", "stray.pyc", 50),
        ("log", "logs/app.log", 4000),
        ("temp", "tmp/a.tmp", 10),
    }
    assert plan.summary.startswith("4 items")
    assert snapshot(root.parent) == before


def test_apply_removes_exactly_the_plan_and_nothing_outside(layout):
    root, outside = layout
    outside_before = snapshot(outside)
    ctx = context([root], log_globs=["*.log"], temp_globs=["tmp/*.tmp"], log_action="delete")
    executor = CleanupExecutor()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == "succeeded", outcome.summary
    assert outcome.changes["files_removed"] == 4
    assert outcome.changes["bytes_freed"] == 500 + 50 + 4000 + 10
    assert not (root / "pkg/__pycache__").exists() and not (root / "stray.pyc").exists()
    assert (root / "pkg/mod.py").exists() and (root / "logs/new.log").exists() and (root / "logs/old.log.gz").exists()
    assert os.path.islink(root / "link_to_outside") and os.path.islink(root / "logs/linked.log")
    assert snapshot(outside) == outside_before


def test_old_logs_are_compressed_when_asked(layout):
    root, _ = layout
    ctx = context([root], pycache=False, pyc=False, log_globs=["logs/*.log"], log_action="compress")
    executor = CleanupExecutor()
    outcome = executor.apply(ctx, executor.plan(ctx))
    assert outcome.status == "succeeded"
    assert not (root / "logs/app.log").exists()
    assert gzip.decompress((root / "logs/app.log.gz").read_bytes()) == b"L" * 4000
    assert 0 < outcome.changes["bytes_freed"] < 4000


def test_a_root_that_is_a_symlink_is_refused(layout, tmp_path):
    _, outside = layout
    link_root = tmp_path / "root_link"
    os.symlink(outside, link_root)
    before = snapshot(outside)
    ctx = context([link_root])
    plan = CleanupExecutor().plan(ctx)
    assert plan.items == []
    assert "symlink" in plan.summary
    assert any("refused" in line and "symlink" in line for line in ctx.lines)
    # A root below a link is refused too: its real path is elsewhere.
    assert CleanupExecutor().plan(context([link_root / "__pycache__"])).items == []
    assert snapshot(outside) == before


def test_a_path_swapped_for_a_link_after_planning_is_left_alone(layout):
    root, outside = layout
    ctx = context([root], pycache=False, log_globs=["*.log"], log_action="delete")
    executor = CleanupExecutor()
    plan = executor.plan(ctx)
    assert any(i["path"].endswith("logs/app.log") for i in plan.items)
    os.unlink(root / "logs/app.log")
    os.symlink(outside / "secret.log", root / "logs/app.log")
    outcome = executor.apply(ctx, plan)
    assert (outside / "secret.log").read_bytes() == b"keep"
    assert os.path.islink(root / "logs/app.log")
    assert outcome.status == "partial"
    assert any("app.log" in line and "symlink" in line for line in ctx.lines)


def test_a_tampered_plan_cannot_reach_outside_the_roots(layout):
    root, outside = layout
    ctx = context([root])
    executor = CleanupExecutor()
    plan = executor.plan(ctx)
    forged = {"root": str(outside), "path": str(outside / "secret.log"), "kind": "temp", "action": "delete", "bytes": 4}
    escaped = {"root": str(root), "path": str(root / "link_to_outside/x.pyc"), "kind": "pyc", "action": "delete",
               "bytes": 4}  # fmt: skip
    plan.items += [forged, escaped]
    outcome = executor.apply(ctx, plan)
    assert (outside / "secret.log").exists() and (outside / "x.pyc").exists()
    assert outcome.status == "partial"


@pytest.mark.parametrize(
    ("pattern", "message", "api_message"),
    [
        ("../outside/*.log", "'..'", "'..'"),
        ("logs/../../*.log", "'..'", "'..'"),
        ("/var/log/*.log", "absolute", "absolute"),
        ("~/x.log", "absolute", "absolute"),
        ("", "1 to 200", "may not be blank"),
        ("a" * 201, "1 to 200", "1 to 200"),
    ],
)
def test_unsafe_patterns_are_refused_naming_the_field(pattern, message, api_message):
    with pytest.raises(PatternError, match=message):
        glob_check(pattern)
    with pytest.raises(serializers.ValidationError) as caught:
        config_validate("cleanup", {"temp_globs": ["ok/*.tmp", pattern]})
    assert api_message in str(caught.value.detail["temp_globs"][1])


@pytest.mark.parametrize("field", ["log_days", "max_items"])
def test_numbers_are_bounded(field):
    with pytest.raises(serializers.ValidationError) as caught:
        config_validate("cleanup", {field: 10**9})
    assert field in caught.value.detail


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.log", "app.log", True),
        ("*.log", "deep/dir/app.log", True),
        ("logs/*.log", "logs/app.log", True),
        ("logs/*.log", "logs/sub/app.log", False),
        ("logs/**/*.log", "logs/sub/deep/app.log", True),
        ("logs/**/*.log", "logs/app.log", True),
        ("*.log.[0-9]", "x.log.3", True),
        ("*.log.[!0-9]", "x.log.a", True),
        ("*.log.[!0-9]", "x.log.3", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", False),  # regex syntax is literal text
    ],
)
def test_globs(pattern, path, matches):
    assert Globs([pattern])(path) is matches


def test_a_pathological_pattern_is_linear(tmp_path):
    # A backtracking engine needs exponential time for this on a long name; RE2 does not.
    globs = Globs(["*a*a*a*a*a*a*a*a*a*a*a*a*b"])
    started = time.perf_counter()
    assert not globs("a" * 5000)
    assert time.perf_counter() - started < 1.0


def test_max_items_stops_the_walk(tmp_path):
    root = tmp_path / "many"
    for i in range(20):
        write(root / f"m{i}.pyc")
    items, problems = plan_cleanup([str(root)], Rules(max_items=5))
    assert len(items) == 5
    assert problems == ["stopped at 5 items (max_items)"]


def test_no_roots_means_nothing_planned():
    plan = CleanupExecutor().plan(context([]))
    assert plan.items == [] and "No cleanup roots" in plan.summary
