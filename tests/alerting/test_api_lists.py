"""The alert, event and delivery lists (and health-check results) are read newest first straight
from an index, whole or filtered by what can match most of a table (a status, a service, a rule, a
channel): no sort of every matching row on each request. Lists that are small by nature (one
alert's deliveries, the open alerts) may sort. SQLite only: its plans do not depend on table
statistics, PostgreSQL's do."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerting.lifecycle import alert_comment
from monitoring.models import CheckKind
from monitoring.models.checks import HealthCheckResult
from tests.monitoring.factories import HealthCheckFactory
from tests.query_plans import whole_table_sorts
from tests.support import on_postgres

LISTS = [
    ("alerts/", "alerting_alert"),
    ("alerts/?status=resolved", "alerting_alert"),
    ("alerts/?service=checkout", "alerting_alert"),
    ("alerts/?severity=critical", "alerting_alert"),
    ("alerts/?rule={rule}", "alerting_alert"),
    ("alert-events/", "alerting_alertevent"),
    ("alert-events/?alert={alert}", "alerting_alertevent"),
    ("alert-events/?kind=commented", "alerting_alertevent"),
    ("alert-deliveries/", "alerting_delivery"),
    ("alert-deliveries/?channel={channel}", "alerting_delivery"),
    ("alert-deliveries/?status=pending", "alerting_delivery"),
    ("health-check-results/", "monitoring_healthcheckresult"),
    ("health-check-results/?health_check={check}", "monitoring_healthcheckresult"),
]


@pytest.fixture
def lists_world(make_alert, rule, webhook_channel, users):
    rule.channels.add(webhook_channel)
    alert = make_alert(rule=rule)
    make_alert(rule=rule, status="resolved")
    alert_comment(alert=alert, by=users["operator"], via="api", text="looking")
    check = HealthCheckFactory(kind=CheckKind.TCP)
    HealthCheckResult.objects.create(health_check=check, status="healthy")
    return {"alert": alert.pk, "rule": rule.pk, "channel": webhook_channel.pk, "check": check.pk}


@pytest.mark.parametrize(("path", "table"), LISTS)
def test_list_is_read_in_index_order(api_client, lists_world, path, table):
    if on_postgres():
        pytest.skip("reads SQLite's query plans")
    with CaptureQueriesContext(connection) as captured:
        response = api_client("viewer").get(f"/api/v1/{path.format(**lists_world)}")
    assert response.status_code == 200, response.content
    assert response.json()["results"], "the list must not be empty, or the filter did nothing"
    assert whole_table_sorts(captured.captured_queries, table) == []
