"""The module dependency graph of a repository, from the imports its latest scan recorded.

Maintenance's security audit asks `repository_imports` whether a vulnerable distribution is
imported by the code (reachability); the API and the repository page show `repository_graph`.
"""

from codehealth.analyzer.imports import ModuleGraph, graph_build
from codehealth.models import CodeRepository, FileMetrics, latest_scan

# The page and the API list at most this many internal edges (a large tree has tens of thousands).
MAX_EDGES = 5000


def scan_graph(scan) -> ModuleGraph:
    rows = FileMetrics.objects.filter(scan_files__scan_id=scan.files_scan_id).values_list("path", "imports")
    return graph_build({path: imports or [] for path, imports in rows.iterator(chunk_size=2000)})


def repository_graph(repository: CodeRepository) -> ModuleGraph | None:
    """The graph of the latest successful scan; None before the first one."""
    scan = latest_scan(repository)
    return None if scan is None else scan_graph(scan)


def repository_imports(repository_id: int) -> dict[str, list[str]]:
    """External top-level module → the repository files importing it (empty before a scan)."""
    repository = CodeRepository.objects.filter(pk=repository_id).first()
    graph = repository_graph(repository) if repository is not None else None
    return graph.external if graph is not None else {}


def graph_json(graph: ModuleGraph) -> dict:
    fan_in: dict[str, int] = {}
    for _, target in graph.internal:
        fan_in[target] = fan_in.get(target, 0) + 1
    return {
        "modules": len(graph.modules),
        "internal_edges": [{"source": s, "target": t} for s, t in graph.internal[:MAX_EDGES]],
        "internal_edges_total": len(graph.internal),
        "most_imported": [
            {"module": m, "imported_by": n} for m, n in sorted(fan_in.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        ],
        "external": [{"package": p, "files": files} for p, files in graph.external.items()],
        "stdlib": sorted(graph.stdlib),
    }
