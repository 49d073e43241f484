"""File discovery, excludes, and the worker pool (framework-free)."""

from codehealth.analyzer import DEFAULT_EXCLUDES, Thresholds, analyze_sources, python_files, read_tree
from codehealth.analyzer.tree import is_excluded


def test_default_excludes_skip_venvs_builds_and_numbered_migrations(tree):
    root = tree(
        {
            "app/models.py": "x = 1\n",
            "app/migrations/0001_initial.py": "x = 1\n",
            "app/migrations/__init__.py": "",
            "app/migrations/loader.py": "x = 1\n",
            ".venv/lib/site.py": "x = 1\n",
            "build/lib/app.py": "x = 1\n",
            "pkg.egg-info/x.py": "x = 1\n",
            "node_modules/a/b.py": "x = 1\n",
            "docs/readme.txt": "not python",
        }
    )
    assert python_files(root, DEFAULT_EXCLUDES) == [
        "app/migrations/__init__.py",
        "app/migrations/loader.py",
        "app/models.py",
    ]


def test_configurable_globs(tree):
    root = tree({"a/gen/x_pb2.py": "", "a/keep.py": "", "tests/test_a.py": ""})
    assert python_files(root, ["tests", "*_pb2.py"]) == ["a/keep.py"]
    assert python_files(root, ["a/gen/*"]) == ["a/keep.py", "tests/test_a.py"]
    assert is_excluded("x/tests/y.py", ["tests"])
    assert not is_excluded("x/testsuite/y.py", ["tests"])


def test_symlinks_are_not_followed(tree, tmp_path):
    root = tree({"real.py": "x = 1\n"})
    (root / "link.py").symlink_to(root / "real.py")
    assert python_files(root, ()) == ["real.py"]


def test_worker_pool_gives_the_same_reports_as_one_process(tree):
    files = {f"m{i}.py": f"def f{i}(a):\n    # TODO: item {i}\n    return a if a else {i}\n" for i in range(12)}
    files["broken.py"] = "def (:\n"
    sources = read_tree(tree(files), ())
    serial = {r.path: r for r in analyze_sources(sources, Thresholds(), workers=1)}
    pooled = {r.path: r for r in analyze_sources(sources, Thresholds(), workers=2)}
    assert serial.keys() == pooled.keys() == {s.path for s in sources}
    for path, report in serial.items():
        other = pooled[path]
        assert (report.error, report.mi, report.raw) == (other.error, other.mi, other.raw)
        assert [f.fingerprint for f in report.findings] == [f.fingerprint for f in other.findings]
    assert pooled["broken.py"].error.startswith("SyntaxError")
