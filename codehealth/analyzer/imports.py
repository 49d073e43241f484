"""Imports of a file and the module dependency graph of a tree. Framework-free.

`imports_of` reads the tree `analyze_source` already parsed: every `import` and `from ... import`
anywhere in the file (inside functions, `if TYPE_CHECKING:` blocks and `try:` fallbacks too —
they are still dependencies). Relative imports are resolved against the file's own path, so
`from .models import x` in `shop/views.py` is recorded as `shop.models.x`.

A `from a import b` cannot tell from the source whether `b` is a module or a name inside `a`;
it is recorded as `a.b`, and the graph resolves it to the longest known module (`a.b` when that
is a module of the tree, else `a`). For external packages only the top-level name matters.

`graph_build` turns the recorded imports of all files into internal edges (module → module of
the tree) and external dependencies (top-level package → the files importing it). Module names
follow the packages on disk: a directory belongs to a module path only while it has an
`__init__.py`, so `src/shop/views.py` is `shop.views` when `src/` is not a package.
"""

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
# A file importing more names than this is generated code: the rest are not recorded.
MAX_IMPORTS_PER_FILE = 2000


def path_module(path: str) -> list[str]:
    """The dotted parts a file's path gives, before package roots are known: `a/b/c.py` →
    [a, b, c]; `a/b/__init__.py` → [a, b]."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return parts


def _package_of(path: str) -> list[str]:
    """The package a relative import in this file starts from (level 1)."""
    return list(PurePosixPath(path).parts[:-1])


def imports_of(tree: ast.AST, path: str) -> list[str]:
    """Sorted, unique dotted names the file imports (relative ones resolved by path)."""
    found: set[str] = set()
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Level 1 is the file's own package; each further level goes one up. Going above
                # the tree is an error at run time: such an import is not recorded.
                if node.level - 1 > len(package):
                    continue
                base = package[: len(package) - (node.level - 1)]
                if node.module:
                    base = [*base, *node.module.split(".")]
            else:
                base = node.module.split(".") if node.module else []
            if not base:
                continue
            prefix = ".".join(base)
            names = [alias.name for alias in node.names if alias.name != "*"]
            if names:
                found.update(f"{prefix}.{name}" for name in names)
            else:
                found.add(prefix)
        if len(found) >= MAX_IMPORTS_PER_FILE:
            break
    return sorted(found)[:MAX_IMPORTS_PER_FILE]


@dataclass
class ModuleGraph:
    modules: dict[str, str] = field(default_factory=dict)  # module name -> file path
    # (importing module, imported module) pairs inside the tree, sorted.
    internal: list[tuple[str, str]] = field(default_factory=list)
    # top-level package -> sorted paths of the files importing it (outside the tree and stdlib).
    external: dict[str, list[str]] = field(default_factory=dict)
    stdlib: dict[str, list[str]] = field(default_factory=dict)


def module_names(paths) -> dict[str, str]:
    """File path → module name: leading directories without an `__init__.py` are not part of it
    (a `src/` layout, a `scripts/` folder of loose files)."""
    paths = list(paths)
    packages = {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "__init__.py"}
    names: dict[str, str] = {}
    for path in paths:
        parts = path_module(path)
        directory = PurePosixPath(path).parent
        # Count how many enclosing directories are packages, innermost first.
        depth = 0
        while str(directory) in packages and str(directory) != ".":
            depth += 1
            directory = directory.parent
        is_init = PurePosixPath(path).name == "__init__.py"
        keep = depth if is_init else depth + 1
        names[path] = ".".join(parts[len(parts) - keep :]) if keep else ""
    return names


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest module of the tree that `name` starts with."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _strip_root(name: str, path_parts: list[str], module: str) -> str:
    """A relative import was resolved against the file's path (`src/shop/...`); give it the
    module-name form (`shop...`) by dropping the same leading directories the module lost."""
    dropped = len(path_parts) - len(module.split(".")) if module else len(path_parts)
    prefix = ".".join(path_parts[:dropped])
    if dropped > 0 and name.startswith(prefix + "."):
        return name[len(prefix) + 1 :]
    return name


def graph_build(file_imports: dict[str, list[str]]) -> ModuleGraph:
    """The dependency graph of a tree from each file's recorded imports."""
    names = module_names(file_imports)
    graph = ModuleGraph(modules={name: path for path, name in names.items() if name})
    known = set(graph.modules)
    top_level = {name.split(".")[0] for name in known}
    edges: set[tuple[str, str]] = set()
    external: dict[str, set[str]] = defaultdict(set)
    stdlib: dict[str, set[str]] = defaultdict(set)
    for path, imported in file_imports.items():
        module = names[path]
        parts = path_module(path)
        for raw in imported:
            name = _strip_root(raw, parts, module)
            target = _resolve(name, known)
            if target is not None:
                if target != module:
                    edges.add((module or path, target))
                continue
            top = name.split(".")[0]
            if top in top_level:
                continue  # a name of the tree that is not a file of it (a namespace or a typo)
            (stdlib if top in STDLIB else external)[top].add(path)
    graph.internal = sorted(edges)
    graph.external = {top: sorted(paths) for top, paths in sorted(external.items())}
    graph.stdlib = {top: sorted(paths) for top, paths in sorted(stdlib.items())}
    return graph
