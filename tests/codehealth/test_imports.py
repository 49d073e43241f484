"""Import analysis: what a file imports, the module graph of a tree, and where the API, the page
and maintenance's reachability read it."""

import ast
import textwrap

import pytest

from codehealth.analyzer.imports import graph_build, imports_of, module_names
from codehealth.analyzer.source import analyze_source
from codehealth.imports import repository_imports
from codehealth.models import CodeRepository, FileMetrics
from codehealth.scanning import scan_create, scan_run
from tests.codehealth.test_unchanged_rescan import age


def imports(source: str, path: str = "pkg/mod.py") -> list[str]:
    return imports_of(ast.parse(textwrap.dedent(source)), path)


def test_absolute_from_and_nested_imports_are_all_recorded():
    found = imports(
        """
        import os, json as j
        import xml.etree.ElementTree
        from collections import OrderedDict, deque
        try:
            import ujson
        except ImportError:
            ujson = None

        def late():
            import requests
            from numpy import linalg
            return requests, linalg

        class K:
            def m(self):
                from yaml import *
        """
    )
    assert found == sorted(
        [
            "collections.OrderedDict",
            "collections.deque",
            "json",
            "numpy.linalg",
            "os",
            "requests",
            "ujson",
            "xml.etree.ElementTree",
            "yaml",
        ]
    )


@pytest.mark.parametrize(
    ("source", "path", "expected"),
    [
        ("from . import models", "shop/views.py", ["shop.models"]),
        ("from .models import Order", "shop/views.py", ["shop.models.Order"]),
        ("from .. import conf", "shop/api/views.py", ["shop.conf"]),
        ("from ..util.text import slug", "shop/api/views.py", ["shop.util.text.slug"]),
        ("from . import views", "shop/__init__.py", ["shop.views"]),
        ("from .views import *", "shop/__init__.py", ["shop.views"]),
        # Above the top of the tree: an error when run, not a dependency.
        ("from ... import nothing", "shop/views.py", []),
    ],
)
def test_relative_imports_resolve_against_the_files_path(source, path, expected):
    assert imports(source, path) == expected


def test_analyze_source_records_imports_beside_the_metrics():
    report = analyze_source("app/a.py", b"import requests\nfrom .b import c\n\ndef f():\n    import json\n")
    assert report.error == ""
    assert report.imports == ["app.b.c", "json", "requests"]


def test_module_names_follow_packages_on_disk():
    names = module_names(
        [
            "src/shop/__init__.py",
            "src/shop/views.py",
            "src/shop/api/__init__.py",
            "src/shop/api/urls.py",
            "scripts/deploy.py",
            "setup.py",
            "loose/no_init.py",
        ]
    )
    assert names == {
        "src/shop/__init__.py": "shop",
        "src/shop/views.py": "shop.views",
        "src/shop/api/__init__.py": "shop.api",
        "src/shop/api/urls.py": "shop.api.urls",
        "scripts/deploy.py": "deploy",
        "setup.py": "setup",
        "loose/no_init.py": "no_init",
    }


def test_graph_resolves_modules_names_and_separates_external_and_stdlib():
    graph = graph_build(
        {
            "src/shop/__init__.py": [],
            "src/shop/models.py": ["django.db.models", "decimal.Decimal"],
            # `from .models import Order` recorded against the path (src.shop.models.Order).
            "src/shop/views.py": ["src.shop.models.Order", "requests", "json"],
            "src/shop/api.py": ["shop.views", "shop.models.Order", "shop", "requests.adapters"],
            "scripts/load.py": ["shop.api.handler", "yaml"],
        }
    )
    assert graph.modules["shop.views"] == "src/shop/views.py"
    assert graph.internal == [
        ("load", "shop.api"),
        ("shop.api", "shop"),
        ("shop.api", "shop.models"),
        ("shop.api", "shop.views"),
        ("shop.views", "shop.models"),
    ]
    assert graph.external == {
        "django": ["src/shop/models.py"],
        "requests": ["src/shop/api.py", "src/shop/views.py"],
        "yaml": ["scripts/load.py"],
    }
    assert sorted(graph.stdlib) == ["decimal", "json"]


def test_a_name_of_the_tree_that_is_no_file_is_neither_internal_nor_external():
    graph = graph_build({"shop/__init__.py": [], "shop/a.py": ["shop.generated.thing"]})
    assert graph.internal == [("shop.a", "shop")]
    assert graph.external == {}


@pytest.fixture
def importing_repository(db, tree, tmp_path):
    root = tree(
        {
            "svc/__init__.py": "",
            "svc/web.py": "import requests\nfrom . import store\n",
            "svc/store.py": "def load():\n    import yaml\n    return yaml\n",
            "svc/util.py": "import json\n",
        }
    )
    age(root)  # trusted by their stat, so a re-scan can take this scan over
    repository = CodeRepository.objects.create(name="importing", path=str(root))
    scan = scan_run(scan=scan_create(repository=repository), workers=1)
    assert scan.status == "succeeded", scan.error
    return repository


def test_a_scan_stores_imports_and_reachability_reads_them(importing_repository):
    stored = dict(FileMetrics.objects.filter(repository=importing_repository).values_list("path", "imports"))
    assert stored["svc/web.py"] == ["requests", "svc.store"]
    assert repository_imports(importing_repository.pk) == {"requests": ["svc/web.py"], "yaml": ["svc/store.py"]}
    # An unchanged re-scan takes the first scan's files over: the graph is still there.
    again = scan_run(scan=scan_create(repository=importing_repository), workers=1)
    assert again.same_as_id is not None
    assert repository_imports(importing_repository.pk) == {"requests": ["svc/web.py"], "yaml": ["svc/store.py"]}


def test_reachability_of_an_unscanned_or_unknown_repository_is_empty(repository):
    assert repository_imports(repository.pk) == {}
    assert repository_imports(10**9) == {}


@pytest.mark.parametrize("actor", ["anonymous", "other_key", "viewer", "operator", "admin"])
def test_imports_api_role_matrix(api_client, importing_repository, actor):
    response = api_client(actor).get(f"/api/v1/codehealth/repositories/{importing_repository.pk}/imports/")
    if actor in ("anonymous", "other_key"):
        assert response.status_code == (401 if actor == "anonymous" else 403)
        return
    assert response.status_code == 200
    body = response.json()
    assert body["external"] == [
        {"package": "requests", "files": ["svc/web.py"]},
        {"package": "yaml", "files": ["svc/store.py"]},
    ]
    assert body["internal_edges"] == [{"source": "svc.web", "target": "svc.store"}]
    assert body["stdlib"] == ["json"]
    assert body["modules"] == 4


def test_imports_api_before_any_scan_is_404(api_client, repository):
    response = api_client("viewer").get(f"/api/v1/codehealth/repositories/{repository.pk}/imports/")
    assert response.status_code == 404
    assert "no successful scan" in response.json()["detail"]


def test_imports_page_lists_external_packages(page_client, importing_repository, django_assert_max_num_queries):
    client = page_client("viewer")
    with django_assert_max_num_queries(12):
        response = client.get(f"/codehealth/{importing_repository.pk}/imports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<code>requests</code>" in html and "<code>yaml</code>" in html
    assert "<code>svc.store</code>" in html
