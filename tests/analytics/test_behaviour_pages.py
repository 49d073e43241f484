"""/analytics/paths/, /analytics/funnels/, /analytics/retention/: who may look, what they show."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from analytics.models import UsageEvent
from tests.analytics.test_behaviour_api import START
from tests.analytics.test_behaviour_core import FUNNEL_EVENTS, PATH_EVENTS

pytestmark = pytest.mark.django_db
PAGES = ["/analytics/paths/", "/analytics/funnels/?step=A&step=B", "/analytics/retention/"]


@pytest.fixture
def events(service):
    rows = PATH_EVENTS + [(f"f-{u}", f"f{u}", t + 1000, n) for u, t, n in FUNNEL_EVENTS]
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(service=service, session_id=s, user_id=u, time=START + timedelta(seconds=t), name=n)
            for s, u, t, n in rows
        ]
    )


@pytest.mark.parametrize(
    ("actor", "expected"), [("anonymous", 302), ("norole", 403), ("viewer", 200), ("operator", 200), ("admin", 200)]
)
def test_role_matrix(page_client, events, actor, expected):
    client = page_client(actor)
    assert {p: client.get(p).status_code for p in PAGES} == dict.fromkeys(PAGES, expected)


def test_a_service_key_does_not_open_the_pages(events, other_key):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {other_key.raw}")
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/login" in response["Location"]


def test_the_paths_page_shows_paths_next_steps_and_recommendations(page_client, events):
    html = page_client("viewer").get("/analytics/paths/?days=1&feature=A").content.decode()
    table = html.split('id="paths"')[1].split("</table>")[0]
    # s1, s2 (paths) and f-u1, f-u2 (funnel sessions) hold A -> B: 4 of 9 sessions.
    assert re.search(r"A → B</td><td class=\"num\">4</td>\s*<td class=\"num\">44.4 %</td>", table)
    after = html.split('id="next-steps"')[1].split("</table>")[0]
    assert "<td>B</td>" in after and "<i>session ends</i>" in after
    assert 'id="behaviour-source"' in html and "computed now" in html
    flow = html.split('id="flow"')[1].split("</table>")[0]
    # A is used 8 times (twice in f-u2): B follows 5 times. B is used 8 times: C follows 4 times
    # (s1, s4, f-u1, f-u3), the session ends twice (f-u2, f-u4), A and D once each.
    assert re.search(r"<td>B\s*<svg.*?</td>\s*<td class=\"num\">62.5 %</td>", flow, re.S)
    assert "C 50 %" in flow and "<i>ends</i> 25 %" in flow
    longer = page_client("viewer").get("/analytics/paths/?days=1&length=3").content.decode()
    assert "A → B → C" in longer


def test_the_funnel_page_draws_its_chart_from_the_numbers_in_the_page(page_client, events):
    response = page_client("viewer").get("/analytics/funnels/?days=1&window=300&step=A&step=B&step=C&step=")
    assert response.status_code == 200
    html = response.content.decode()
    chart = json.loads(html.split('<script id="funnel-data" type="application/json">')[1].split("</script>")[0])
    assert chart["labels"] == ["A", "B", "C"]
    # Users u1..u4 (paths) and fu1..fu5 (funnel): A by u1 u2 u3 fu1 fu2 fu4 fu5; then B within
    # 5 minutes by u1 u2 fu1 fu2 fu4; then C by u1 (100 s) and fu1 (90 s).
    assert chart["datasets"][0]["data"] == [7, 5, 2]
    assert chart["datasets"][1]["data"] == [0, 2, 3]
    assert 'name="step" value="C"' in html and "behaviour_charts.js" in html


def test_the_funnel_page_without_steps_is_the_form(page_client, events):
    html = page_client("viewer").get("/analytics/funnels/").content.decode()
    assert 'id="funnel-form"' in html and 'id="funnel"' not in html


@pytest.mark.parametrize(
    ("query", "field"),
    [("step=A", "step"), ("step=A&step=B&window=0", "window"), ("step=A&step=B&days=400", "days"),
     ("&".join(f"step=s{i}" for i in range(11)), "step"), ("step=A&step=B&service=nope", "service")],
)  # fmt: skip
def test_bad_funnel_questions_say_which_field(page_client, events, query, field):
    response = page_client("viewer").get(f"/analytics/funnels/?{query}")
    assert response.status_code == 400
    errors = response.content.decode().split('id="behaviour-errors"')[1].split("</ul>")[0]
    assert f"<b>{field}</b>" in errors


def test_the_retention_page_shows_the_cohort_table(page_client, service):
    monday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday() + 7)
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(service=service, user_id=u, time=monday + timedelta(days=d), name="A")
            for u, d in [("u1", 0), ("u1", 7), ("u2", 1)]
        ]
    )
    html = page_client("viewer").get("/analytics/retention/?weeks=4").content.decode()
    table = html.split('id="retention"')[1].split("</table>")[0]
    row = table.split(monday.date().isoformat())[1].split("</tr>")[0]
    assert re.findall(r">(\d+ %)</td>", row) == ["100 %", "50 %"]
    bad = page_client("viewer").get("/analytics/retention/?weeks=53")
    assert bad.status_code == 400 and "<b>weeks</b>" in bad.content.decode()


def test_the_pages_query_count_does_not_grow_with_events(page_client, events, service, django_assert_max_num_queries):
    client = page_client("viewer")
    for page in PAGES:
        client.get(page)  # the first answers are computed and stored
    UsageEvent.objects.bulk_create(
        [UsageEvent(service=service, session_id=f"z{i}", user_id=f"z{i}", time=START, name="A") for i in range(200)]
    )
    with django_assert_max_num_queries(20):
        client.get("/analytics/paths/?days=2")  # a new question: computed on demand
    with django_assert_max_num_queries(20):
        client.get("/analytics/funnels/?days=2&step=A&step=B")
