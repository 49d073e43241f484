"""The aggregation names are listed once (monitoring/query.py AGGREGATIONS); a rule's choices
are built from that list, so a new aggregation the query layer learns is a rule choice too."""

import re

from monitoring.alerting.models import Aggregation
from monitoring.query import AGGREGATIONS
from tests.support import ROOT


def test_rule_choices_are_the_query_layers_aggregations():
    assert Aggregation.values == list(AGGREGATIONS)
    assert Aggregation.P95 == "p95" and Aggregation("last").label == "Last"


def test_only_the_query_module_lists_every_aggregation():
    listing = []
    for path in [*ROOT.glob("monitoring/**/*.py"), *ROOT.glob("portal/**/*.py")]:
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        if all(re.search(rf"""["']{name}["']""", text) for name in AGGREGATIONS):
            listing.append(str(path.relative_to(ROOT)))
    assert listing == ["monitoring/query.py"]
