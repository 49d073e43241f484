"""The error pages: list filters, sorting, sparklines in constant queries; the detail's stack,
tags, events and activity; status buttons and merge for operators only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.errors.lifecycle import group_resolve
from monitoring.errors.models import ErrorGroup, GroupStatus
from monitoring.errors.retention import events_prune
from monitoring.errors.store import events_store
from tests.errors.builders import event, exception, frame

pytestmark = pytest.mark.django_db


def _store(service, function: str, n: int = 1, **fields) -> ErrorGroup:
    now = timezone.now()
    body = [event(exception(frames=[frame("shop.views", function)]), **fields) for _ in range(n)]
    return ErrorGroup.objects.get(pk=events_store(service=service, events=body, now=now).outcomes[0].group_id)


def test_the_list_filters_and_sorts(page_client, service, other_service, users):
    often = _store(service, "often", 5, release="shop@2")
    rare = _store(service, "rare", 1, level="warning")
    foreign = _store(other_service, "billing", 2)
    group_resolve(group=rare, by=users["operator"], via="page")
    client = page_client("viewer")

    def shown(query: str) -> list[int]:
        response = client.get("/monitoring/errors/?" + query)
        assert response.status_code == 200
        return [row["group"].pk for row in response.context["rows"]]

    assert shown("") == [foreign.pk, often.pk]  # unresolved, last seen first
    assert shown("status=all&sort=count") == [often.pk, foreign.pk, rare.pk]
    assert shown("status=resolved") == [rare.pk]
    assert shown("status=all&level=warning") == [rare.pk]
    assert shown("service=billing") == [foreign.pk]
    assert shown("release=shop@2") == [often.pk]
    assert shown("q=often") == [often.pk]
    assert shown("q=" + "x" * 5000) == []  # the search box is cut at its maximum
    assert shown("sort=bogus&level=nope") == [foreign.pk, often.pk]  # unknown values are ignored


def test_the_list_shows_sparklines_in_constant_queries(page_client, service, django_assert_max_num_queries):
    for n in range(30):
        _store(service, f"f{n}", 2)
    client = page_client("viewer")
    with django_assert_max_num_queries(12) as few:
        client.get("/monitoring/errors/")
    for n in range(30, 60):
        _store(service, f"f{n}", 1)
    with django_assert_max_num_queries(len(few)):
        response = client.get("/monitoring/errors/")
    assert response.content.count(b"<polyline") == 50
    row = response.context["rows"][-1]
    assert row["day"] == 2 and len(row["points"].split()) == 24


def test_the_detail_shows_stack_tags_events_and_activity(page_client, service, users):
    cause = exception("KeyError", "'sku'", [frame("django.db", "execute", in_app=False), frame("shop.stock", "find")])
    raised = exception("ValueError", "cannot price", [frame("shop.views", "checkout", 77)])
    events_store(
        service=service,
        events=[event(cause, raised, tags={"browser": "Firefox", "region": "eu"}) for _ in range(3)]
        + [event(cause, raised, tags={"browser": "Chrome"})],
    )
    group = ErrorGroup.objects.get()
    group_resolve(group=group, by=users["operator"], via="page", reason="deployed fix")
    response = page_client("viewer").get(f"/monitoring/errors/{group.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("ValueError") < html.index("KeyError")  # the raised one first, then its cause
    assert '<details class="frame in-app" open>' in html
    assert '<details class="frame">' in html  # the library frame is folded
    assert "   77     line 77" in html  # context lines with numbers
    assert dict((key, top) for key, _, top in response.context["tags"])["browser"] == [
        ("Firefox", 3, 75),
        ("Chrome", 1, 25),
    ]
    assert len(response.context["events"]) == 4
    assert "deployed fix" in html
    assert 'id="group-actions"' not in html  # viewers see no buttons


def test_operators_change_status_and_merge_from_the_page(page_client, service):
    one, two = _store(service, "one"), _store(service, "two")
    client = page_client("operator")
    page = client.get(f"/monitoring/errors/{one.pk}/").content.decode()
    assert 'id="group-actions"' in page
    assert client.post(f"/monitoring/errors/{one.pk}/ignore/").status_code == 302
    assert ErrorGroup.objects.get(pk=one.pk).status == GroupStatus.IGNORED
    response = client.post(f"/monitoring/errors/{one.pk}/ignore/", follow=True)
    assert b"Cannot ignore" in response.content
    response = client.post(f"/monitoring/errors/{one.pk}/merge/", {"target": "nope"}, follow=True)
    assert b"target: give the number" in response.content
    response = client.post(f"/monitoring/errors/{one.pk}/merge/", {"target": f"#{two.pk}"})
    assert response.status_code == 302 and response.url == f"/monitoring/errors/{two.pk}/"
    assert ErrorGroup.objects.get(pk=one.pk).merged_into_id == two.pk
    assert ErrorGroup.objects.get(pk=two.pk).times_seen == 2
    merged_page = client.get(f"/monitoring/errors/{one.pk}/").content.decode()
    assert 'id="merged-into"' in merged_page and 'id="group-actions"' not in merged_page


def test_viewers_cannot_act(page_client, service):
    group = _store(service, "one")
    assert page_client("viewer").post(f"/monitoring/errors/{group.pk}/resolve/").status_code == 403
    assert page_client("viewer").post(f"/monitoring/errors/{group.pk}/merge/", {"target": 1}).status_code == 403
    assert ErrorGroup.objects.get().status == GroupStatus.UNRESOLVED


def test_the_detail_of_a_group_whose_events_expired(page_client, service, settings):
    group = _store(service, "old")
    events_prune(now=timezone.now() + timedelta(days=settings.ERRORS_EVENT_RETENTION_DAYS + 1))
    response = page_client("viewer").get(f"/monitoring/errors/{group.pk}/")
    assert b"No events kept" in response.content
    assert response.context["group"].times_seen == 1
