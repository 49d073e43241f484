"""/api/v1/errors/groups/: who may read and act, filters, actions, events with a cursor."""

import pytest
from django.utils import timezone

from monitoring.errors.models import ErrorGroup, GroupStatus
from monitoring.errors.store import events_store
from tests.errors.builders import event, exception, frame

pytestmark = pytest.mark.django_db
ACTORS = ["anonymous", "norole", "viewer", "operator", "admin", "other_key"]


def _store(service, function: str, n: int = 1, **fields) -> ErrorGroup:
    body = [event(exception(frames=[frame("shop.views", function)]), **fields) for _ in range(n)]
    result = events_store(service=service, events=body, now=timezone.now())
    return ErrorGroup.objects.get(pk=result.outcomes[0].group_id)


@pytest.mark.parametrize(
    ("actor", "read", "act"),
    [("anonymous", 401, 401), ("norole", 403, 403), ("viewer", 200, 403), ("operator", 200, 200),
     ("admin", 200, 200), ("other_key", 403, 403)],
)  # fmt: skip
def test_role_matrix(api_client, service, actor, read, act):
    group = _store(service, "a")
    client = api_client(actor)
    assert client.get("/api/v1/errors/groups/").status_code == read
    assert client.get(f"/api/v1/errors/groups/{group.pk}/").status_code == read
    assert client.get(f"/api/v1/errors/groups/{group.pk}/events/").status_code == read
    assert client.post(f"/api/v1/errors/groups/{group.pk}/resolve/", {}, format="json").status_code == act
    assert ErrorGroup.objects.get().status == (GroupStatus.RESOLVED if act == 200 else GroupStatus.UNRESOLVED)


def test_the_own_service_key_cannot_read_or_act_either(key_client, service):
    group = _store(service, "a")
    assert key_client.get("/api/v1/errors/groups/").status_code == 403
    assert key_client.post(f"/api/v1/errors/groups/{group.pk}/ignore/").status_code == 403


def test_filters_and_fields(api_client, service, other_service):
    a = _store(service, "a", 3, release="shop@3")
    b = _store(other_service, "b", 1, level="warning")
    client = api_client("viewer")

    def ids(query: str) -> list[int]:
        response = client.get("/api/v1/errors/groups/?" + query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [b.pk, a.pk]
    assert ids("sort=count") == [a.pk, b.pk]
    assert ids("service=checkout") == [a.pk]
    assert ids("level=warning") == [b.pk]
    assert ids("release=shop@3") == [a.pk]
    assert ids("search=shop.views in a") == [a.pk]
    assert ids("status=resolved") == []
    row = client.get(f"/api/v1/errors/groups/{a.pk}/").json()
    assert (row["service"], row["times_seen"], row["last_release"], row["status"]) == (
        "checkout",
        3,
        "shop@3",
        "unresolved",
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=open", "status"), ("level=loud", "level"), ("sort=newest", "sort"), ("search=" + "x" * 201, "search"),
     ("seen_since=yesterday", "seen_since")],
)  # fmt: skip
def test_bad_filters_are_400_naming_the_field(api_client, query, field):
    response = api_client("viewer").get("/api/v1/errors/groups/?" + query)
    assert response.status_code == 400 and field in response.json()


def test_actions_and_conflicts(api_client, service):
    group = _store(service, "a")
    client = api_client("operator")
    response = client.post(f"/api/v1/errors/groups/{group.pk}/ignore/", {"reason": "noise"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    response = client.post(f"/api/v1/errors/groups/{group.pk}/ignore/", {}, format="json")
    assert response.status_code == 409 and response.json()["status"] == "ignored"
    response = client.post(f"/api/v1/errors/groups/{group.pk}/unresolve/", {"reason": 5}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert group.activity.get().message == "noise"


def test_merge(api_client, service, other_service):
    one, two = _store(service, "one", 2), _store(service, "two")
    foreign = _store(other_service, "x")
    client = api_client("operator")
    assert "target" in client.post(f"/api/v1/errors/groups/{one.pk}/merge/", {}, format="json").json()
    missing = client.post(f"/api/v1/errors/groups/{one.pk}/merge/", {"target": 999_999}, format="json")
    assert missing.status_code == 400 and "target" in missing.json()
    cross = client.post(f"/api/v1/errors/groups/{one.pk}/merge/", {"target": foreign.pk}, format="json")
    assert cross.status_code == 409
    response = client.post(f"/api/v1/errors/groups/{one.pk}/merge/", {"target": two.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == two.pk and response.json()["times_seen"] == 3
    listed = [row["id"] for row in client.get("/api/v1/errors/groups/").json()["results"]]
    assert one.pk not in listed  # merged groups leave the list, their page stays
    assert client.get(f"/api/v1/errors/groups/{one.pk}/").json()["merged_into"] == two.pk


def test_events_are_paged_with_a_cursor(api_client, service, django_assert_max_num_queries):
    group = _store(service, "a", 7, tags={"region": "eu"})
    client = api_client("viewer")
    seen, url = [], f"/api/v1/errors/groups/{group.pk}/events/?page_size=3"
    while url:
        with django_assert_max_num_queries(6):
            body = client.get(url).json()
        seen += [row["event_id"] for row in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 7
    assert client.get(f"/api/v1/errors/groups/{group.pk}/events/?cursor=zzz").status_code == 400


def test_the_list_costs_the_same_queries_for_more_groups(api_client, service, django_assert_max_num_queries):
    for n in range(5):
        _store(service, f"f{n}")
    client = api_client("viewer")
    with django_assert_max_num_queries(8) as few:
        client.get("/api/v1/errors/groups/")
    for n in range(5, 40):
        _store(service, f"f{n}")
    with django_assert_max_num_queries(len(few)):
        assert len(client.get("/api/v1/errors/groups/").json()["results"]) == 40
