"""HttpSink: against a local HTTP server, and against the portal's own events API (live server)."""

import json
import urllib.request

import pytest
from werkzeug import Request, Response

from analytics.models import UsageEvent
from analytics.tracker import HttpSink, SinkRejected, Tracker, track_event

PATH = "/api/v1/events/"


def sink_for(httpserver, **options) -> HttpSink:
    options.setdefault("backoff", 0.001)
    return HttpSink(httpserver.url_for("/"), key="pk_abc_secret", **options)


def events(n: int = 2) -> list[dict]:
    return [{"name": f"f{i}", "kind": "feature", "success": True, "event_id": f"e{i}"} for i in range(n)]


def test_it_posts_the_batch_with_the_key_and_an_idempotency_key(httpserver):
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json({"accepted": 2}, status=201)
    sink = sink_for(httpserver)
    assert sink.send(events(), batch_key="k1") == 0
    (request, _), *_ = httpserver.log
    assert request.headers["Authorization"] == "Bearer pk_abc_secret"
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == {"events": events()}


def test_a_503_is_retried_with_the_same_key_and_body(httpserver):
    httpserver.expect_ordered_request(PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=502)
    httpserver.expect_ordered_request(PATH).respond_with_json({"accepted": 2}, status=201)
    sink = sink_for(httpserver)
    sink.send(events(), batch_key="k1")
    bodies = [(r.headers["Idempotency-Key"], r.data) for r, _ in httpserver.log]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert sink.attempts == 3


def test_it_gives_up_after_its_retries_and_the_tracker_counts_the_loss(httpserver):
    httpserver.expect_request(PATH).respond_with_data("down", status=503)
    tracker = Tracker(sink_for(httpserver, retries=2), autostart=False)
    track_event("e", tracker=tracker)
    assert tracker.flush() == 0
    assert (tracker.failed, tracker.sent) == (1, 0)
    assert len(httpserver.log) == 3


def test_a_refused_key_is_not_retried(httpserver):
    httpserver.expect_request(PATH).respond_with_json({"detail": "unknown key"}, status=401)
    sink = sink_for(httpserver)
    with pytest.raises(SinkRejected, match="401"):
        sink.send(events(), batch_key="k1")
    assert len(httpserver.log) == 1


def test_a_redirect_is_an_error_not_a_delivery(httpserver):
    # Followed, it would turn into a GET without the events, answered 200.
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "", status=302, headers={"Location": "/elsewhere/"}
    )
    httpserver.expect_request("/elsewhere/").respond_with_json({})
    with pytest.raises(SinkRejected, match="answered 302"):
        sink_for(httpserver).send(events(), batch_key="k1")
    assert [r.path for r, _ in httpserver.log] == [PATH]


def test_invalid_events_are_left_out_and_the_rest_sent_again(httpserver):
    answer = {"detail": "1 of 3 events are invalid", "errors": [{"index": 1, "field": "events[1].name"}]}
    httpserver.expect_ordered_request(PATH).respond_with_json(answer, status=400)
    httpserver.expect_ordered_request(PATH).respond_with_json({"accepted": 2}, status=201)
    sink = sink_for(httpserver)
    assert sink.send(events(3), batch_key="k1") == 1
    (_, _), (second, _) = httpserver.log
    assert [e["name"] for e in json.loads(second.data)["events"]] == ["f0", "f2"]
    assert second.headers["Idempotency-Key"] == "k1-valid"


def test_a_batch_over_the_body_limit_is_halved_until_it_fits(httpserver):
    def limited(request: Request) -> Response:
        if len(json.loads(request.data)["events"]) > 2:
            return Response('{"detail": "body too large"}', status=413)
        return Response('{"accepted": 1}', status=201)

    httpserver.expect_request(PATH).respond_with_handler(limited)
    sink = sink_for(httpserver)
    assert sink.send(events(5), batch_key="k") == 0
    accepted = [
        (r.headers["Idempotency-Key"], len(json.loads(r.data)["events"]))
        for r, answer in httpserver.log
        if answer.status_code == 201
    ]
    assert accepted == [("k-a", 2), ("k-b-a", 1), ("k-b-b", 2)]


def test_an_unreachable_receiver_is_retried_then_given_up(httpserver):
    url = httpserver.url_for("/")
    httpserver.stop()  # nothing listens there now
    try:
        sink = HttpSink(url, key="pk_x", retries=2, backoff=0.001, timeout=2)
        with pytest.raises(OSError):
            sink.send(events(), batch_key="k1")
        assert sink.attempts == 3
    finally:
        httpserver.start()


def test_closing_stops_the_waiting_between_retries(httpserver):
    httpserver.expect_request(PATH).respond_with_data("down", status=503)
    sink = sink_for(httpserver, retries=5, backoff=60)
    sink.close()  # what Tracker.stop() does at exit
    with pytest.raises(urllib.error.HTTPError):
        sink.send(events(), batch_key="k1")
    assert len(httpserver.log) == 1


def test_backoff_grows_with_jitter_and_honours_retry_after():
    sink = HttpSink("http://127.0.0.1:9", key="k", backoff=1, max_backoff=10)
    for attempt, (low, high) in enumerate([(0.5, 1), (1, 2), (2, 4), (4, 8), (5, 10), (5, 10)]):
        assert low <= sink.delay(attempt) <= high
    assert sink.delay(0, retry_after="7") == 7
    assert sink.delay(0, retry_after="3600") == 10  # bounded


def test_only_http_urls_and_a_key_are_accepted():
    with pytest.raises(ValueError, match="base_url"):
        HttpSink("file:///etc/passwd", key="k")
    with pytest.raises(ValueError, match="key"):
        HttpSink("http://portal.example", key="")


@pytest.fixture
def lossy_proxy(httpserver, live_server):
    """Forwards to the live portal, but answers the first request 503 after the portal stored
    it: the answer was lost, the sender cannot know the batch arrived and sends it again."""
    seen = []

    def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        url = live_server.url + request.path  # the test's own server
        upstream = urllib.request.Request(url, data=request.data, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(upstream, timeout=30) as answer:  # noqa: S310
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        seen.append((request.headers.get("Idempotency-Key"), request.data, status))
        if len(seen) == 1:
            return Response("upstream timed out", status=503)
        return Response(body, status=status, content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(forward)
    return seen


def test_through_the_live_portal_a_lost_answer_stores_no_duplicate(lossy_proxy, httpserver, service, service_key):
    tracker = Tracker(HttpSink(httpserver.url_for("/"), key=service_key.raw, backoff=0.001), autostart=False)
    for i in range(5):
        track_event(f"checkout.step{i}", kind="feature", duration_ms=i, tracker=tracker)
    assert tracker.flush() == 5
    assert [status for _, _, status in lossy_proxy] == [201, 200]  # stored, then "already accepted"
    (key1, body1, _), (key2, body2, _) = lossy_proxy
    assert key1 == key2 and body1 == body2
    stored = UsageEvent.objects.filter(service=service)
    assert stored.count() == 5
    assert sorted(stored.values_list("name", flat=True)) == [f"checkout.step{i}" for i in range(5)]
    assert tracker.failed == 0


def test_through_the_live_portal_an_invalid_event_does_not_lose_the_others(live_server, service, service_key):
    tracker = Tracker(HttpSink(live_server.url, key=service_key.raw, backoff=0.001), autostart=False)
    track_event("ok.one", tracker=tracker)
    track_event("too.big", metadata={"blob": "x" * 10_000}, tracker=tracker)  # over the metadata limit
    track_event("ok.two", tracker=tracker)
    assert tracker.flush() == 2
    assert (tracker.sent, tracker.failed) == (2, 1)
    assert sorted(UsageEvent.objects.filter(service=service).values_list("name", flat=True)) == ["ok.one", "ok.two"]


def test_through_the_live_portal_an_unknown_key_is_refused_for_good(live_server, service):
    sink = HttpSink(live_server.url, key="pk_00000000_nope", backoff=0.001)
    with pytest.raises(SinkRejected, match="answered 401"):
        sink.send(events(1), batch_key="k")
    assert sink.attempts == 1
    assert not UsageEvent.objects.exists()


def test_through_the_live_portal_a_key_writes_its_own_service_only(live_server, service, other_service, other_key):
    sink = HttpSink(live_server.url, key=other_key.raw, backoff=0.001)
    sink.send(events(1), batch_key="k")
    assert list(UsageEvent.objects.values_list("service__slug", flat=True)) == [other_service.slug]
