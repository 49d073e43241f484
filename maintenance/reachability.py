"""Which top-level modules a code-health repository imports, and whether a vulnerable
distribution is among them.

`repository_imports(repository_id) -> {top-level module: [files importing it]}` is code health's
contract (codehealth.imports, from the imports its latest scan recorded). A repository never
scanned has no recorded imports, so for it this module parses the files itself with `ast`
(`imports_scan`, same answer shape). The fallback reads every `.py` file of the repository under its excludes (code
health's walker: no symlinks followed, inside CODEHEALTH_ALLOWED_ROOTS), every `import` and
absolute `from ... import` anywhere in a file (inside functions and `try:` fallbacks too: they
still run). Relative imports are the repository's own modules and are not external.
"""

from __future__ import annotations

import ast
import warnings
from collections import defaultdict

from codehealth.analyzer.tree import stat_tree
from codehealth.conf import excludes_for
from codehealth.imports import repository_imports as recorded_imports
from codehealth.models import CodeRepository, latest_scan
from codehealth.roots import repository_root

MAX_FILES = 20_000
MAX_FILE_BYTES = 2 * 1024 * 1024  # generated files beyond this are not parsed
MAX_FILES_PER_MODULE = 20  # files kept per imported module (the audit shows a few)


def imports_parse(source: str | bytes) -> set[str]:
    """Top-level names of the absolute imports in one file ({} when it does not parse)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # invalid escapes in old code
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def imports_scan(repository_id: int) -> dict[str, list[str]]:
    """The fallback: parse the repository's files now."""
    repository = CodeRepository.objects.get(pk=repository_id)
    root = repository_root(repository.path)  # ValueError when outside the allowed roots
    found: dict[str, set[str]] = defaultdict(set)
    for rel, _ in stat_tree(root, excludes_for(repository))[:MAX_FILES]:
        path = root / rel
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            source = path.read_bytes()
        except OSError:
            continue
        for module in imports_parse(source):
            found[module].add(rel)
    return {module: sorted(files)[:MAX_FILES_PER_MODULE] for module, files in sorted(found.items())}


def repository_imports(repository_id: int) -> dict[str, list[str]]:
    """{top-level module: [files importing it]} of a code-health repository: what its latest scan
    recorded, or, before its first scan (when code health knows nothing and would answer {},
    which would read as "imports nothing"), the files parsed now."""
    repository = CodeRepository.objects.get(pk=repository_id)
    if latest_scan(repository) is not None:
        return recorded_imports(repository_id)
    return imports_scan(repository_id)


def reachable(top_level: list[str], imports: dict[str, list[str]]) -> tuple[bool | None, list[str]]:
    """(imported?, files) for a distribution with these top-level modules; None when its
    metadata names no module (nothing to match: unknown, not "no")."""
    if not top_level:
        return None, []
    files = sorted({f for module in top_level for f in imports.get(module, ())})
    return bool(files), files[:5]
