"""The aggregation names are listed once (monitoring/aggregations.py AGGREGATIONS, which the
query engine computes); a rule's choices are built from that list, so a new aggregation the
query layer learns is a rule choice too."""

import re

from monitoring.alerting.models import Aggregation
from monitoring.query import AGGREGATIONS
from tests.support import ROOT


def test_rule_choices_are_the_query_layers_aggregations():
    assert Aggregation.values == list(AGGREGATIONS)
    assert Aggregation.P95 == "p95" and Aggregation("last").label == "Last"


def _lists_all(text: str, window: int = 12) -> bool:
    """All the names as string literals within a few lines: a listing (a tuple, a choices class),
    not code that handles them one by one in different places."""
    lines = text.splitlines()
    for start in range(max(1, len(lines) - window + 1)):
        chunk = "\n".join(lines[start : start + window])
        if all(re.search(rf"""["']{name}["']""", chunk) for name in AGGREGATIONS):
            return True
    return False


def test_only_one_module_lists_the_aggregations():
    listing = [
        str(path.relative_to(ROOT))
        for path in [*ROOT.glob("monitoring/**/*.py"), *ROOT.glob("portal/**/*.py")]
        if "migrations" not in path.parts and _lists_all(path.read_text())
    ]
    assert listing == ["monitoring/aggregations.py"]


def test_the_check_would_see_a_second_listing():
    assert _lists_all("class Aggregation:\n" + "\n".join(f'    {n.upper()} = "{n}"' for n in AGGREGATIONS))
