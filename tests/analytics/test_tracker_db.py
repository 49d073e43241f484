"""The tracker inside the portal: the database sink, the request context, the tracked features."""

import asyncio
import time

import pytest
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from analytics import tracker
from analytics.middleware import UsageContextMiddleware, session_hash
from analytics.models import UsageEvent
from analytics.tracker import Tracker, get_context, track_event, track_usage
from analytics.tracker_db import DatabaseSink, tracker_install
from monitoring.hosts import portal_service
from tests.alerting.conftest import make_alert  # noqa: F401  (fixture)


@pytest.fixture
def db_tracker(db):
    return Tracker(DatabaseSink(), autostart=False)


@pytest.fixture
def default_tracker(db):
    """The process-wide tracker as the portal configures it, emptied before and after."""
    assert isinstance(tracker.DEFAULT.sink, DatabaseSink)
    tracker.DEFAULT.take()
    yield tracker.DEFAULT
    tracker.DEFAULT.take()


def test_events_are_stored_under_the_portals_own_service(db_tracker):
    @track_usage("reports.export", cpu=True, tracker=db_tracker)
    def export():
        time.sleep(0.01)

    @track_usage("reports.fail", tracker=db_tracker)
    def fail():
        raise LookupError("no such report")

    with tracker.set_context(session_id="s-1", user_id="7"):
        export()
        with pytest.raises(LookupError):
            fail()
    track_event("page.hint", metadata={"page": "alerts"}, tracker=db_tracker)
    assert db_tracker.flush() == 3
    rows = {e.name: e for e in UsageEvent.objects.all()}
    assert {e.service_id for e in rows.values()} == {portal_service().pk}
    ok, failed, custom = rows["reports.export"], rows["reports.fail"], rows["page.hint"]
    assert (ok.session_id, ok.user_id, ok.success, ok.kind) == ("s-1", "7", True, "feature")
    assert ok.duration_ms >= 10 and ok.cpu_time_ms is not None
    assert abs(time.time() - ok.time.timestamp()) < 60
    assert (failed.success, failed.error_type) == (False, "LookupError")
    assert (custom.kind, custom.metadata, custom.session_id) == ("custom", {"page": "alerts"}, "")


def test_an_invalid_event_is_left_out_and_the_rest_stored(db_tracker, settings):
    settings.ANALYTICS_METADATA_MAX_BYTES = 100
    track_event("ok.one", tracker=db_tracker)
    track_event("too.big", metadata={"blob": "x" * 200}, tracker=db_tracker)
    track_event("ok.two", tracker=db_tracker)
    assert db_tracker.flush() == 2
    assert (db_tracker.sent, db_tracker.failed) == (2, 1)
    assert sorted(UsageEvent.objects.values_list("name", flat=True)) == ["ok.one", "ok.two"]


def test_a_batch_written_twice_is_stored_once(db_tracker):
    track_event("once", tracker=db_tracker)
    batch = db_tracker.as_dicts(db_tracker.take())
    sink = db_tracker.sink
    assert sink.send(batch, batch_key="first") == 0
    assert sink.send(batch, batch_key="first") == 0  # the same key
    assert sink.send(batch, batch_key="other") == 0  # a new key, the same event ids
    assert UsageEvent.objects.count() == 1


def test_install_applies_the_settings(settings):
    settings.ANALYTICS_TRACKER_FLUSH_SIZE = 17
    settings.ANALYTICS_TRACKER_FLUSH_INTERVAL_SECONDS = 2.5
    settings.ANALYTICS_TRACKER_BUFFER_LIMIT = 99
    before = (tracker.DEFAULT.flush_size, tracker.DEFAULT.flush_interval, tracker.DEFAULT.limit)
    try:
        installed = tracker_install()
        assert installed is tracker.DEFAULT
        assert (installed.flush_size, installed.flush_interval, installed.limit) == (17, 2.5, 99)
        assert isinstance(installed.sink, DatabaseSink)
    finally:
        flush_size, flush_interval, limit = before
        tracker.DEFAULT.configure(
            sink=tracker.DEFAULT.sink,
            flush_size=flush_size,
            flush_interval=flush_interval,
            limit=limit,
            autostart=False,
        )


def test_a_page_request_records_the_session_and_user_of_the_person(page_client, users, make_alert, default_tracker):  # noqa: F811
    alert = make_alert()
    client = page_client("operator")
    response = client.post(f"/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 302
    (event,) = [e for e in default_tracker.as_dicts(default_tracker.take()) if e["name"] == "alerts.acknowledge"]
    assert event["user_id"] == str(users["operator"].pk)
    assert event["session_id"] == session_hash(client.session.session_key)
    assert client.session.session_key not in event["session_id"]  # the secret itself is never stored
    assert event["success"] is True


def test_the_tracked_features_reach_the_database(page_client, users, make_alert, default_tracker):  # noqa: F811
    alert = make_alert()
    client = page_client("operator")
    client.post(f"/alerts/{alert.pk}/comment/", {"text": "looking"})
    client.post(f"/alerts/{alert.pk}/resolve/")
    client.post(f"/alerts/{alert.pk}/acknowledge/")  # refused: resolved already (the view says so)
    default_tracker.flush()
    stored = list(UsageEvent.objects.order_by("id").values_list("name", "user_id", "success"))
    operator = str(users["operator"].pk)
    assert stored == [
        ("alerts.comment", operator, True),
        ("alerts.resolve", operator, True),
        ("alerts.acknowledge", operator, False),
    ]


def test_an_anonymous_request_has_no_session_or_user():
    seen = []
    middleware = UsageContextMiddleware(lambda request: seen.append(get_context()) or "response")
    request = RequestFactory().get("/")
    request.session = SessionStore()  # no cookie: no key, nothing loaded
    assert middleware(request) == "response"
    assert seen == [("", "")]
    assert get_context() == ("", "")  # reset after the request


def test_the_async_middleware_sets_the_context_for_the_view():
    @track_usage("async.view", tracker=Tracker(tracker.MemorySink(), autostart=False))
    async def view(request):
        return get_context()

    middleware = UsageContextMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware)
    request = RequestFactory().get("/")
    session = SessionStore(session_key="k" * 32)
    session._session_cache = {SESSION_KEY: "42"}  # as loaded: the test needs no database
    request.session = session
    assert asyncio.run(middleware(request)) == (session_hash("k" * 32), "42")
    assert get_context() == ("", "")


@pytest.mark.parametrize(("enabled", "sink_type"), [(True, DatabaseSink), (False, type(None))])
def test_the_switch_decides_whether_the_portal_records_usage(settings, enabled, sink_type):
    settings.ANALYTICS_TRACKER_ENABLED = enabled
    before = tracker.DEFAULT.sink
    try:
        tracker.DEFAULT.configure(sink=None)
        apps.get_app_config("analytics").ready()
        assert type(tracker.DEFAULT.sink) is sink_type
    finally:
        tracker.DEFAULT.configure(sink=before, autostart=False)
