"""The inbox between the ingest endpoint and the grouping: one insert per envelope, drains that
claim rows so two never store one event, crashed claims retried, bad events dropped alone."""

from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from monitoring.errors import inbox, tasks
from monitoring.errors.inbox import CLAIM_TIMEOUT, MAX_ATTEMPTS, inbox_add, inbox_claim, inbox_drain, inbox_wake
from monitoring.errors.models import ErrorEvent, ErrorGroup, ErrorInbox
from monitoring.errors.store import events_prepare
from portal.lib.masking import SUBSTITUTE
from portal.schedules import declared_schedules
from tests.errors.builders import event, exception, frame

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def accept(service, events: list[dict], now=NOW) -> list[str]:
    """What the endpoint does with an envelope's events: prepare, then one insert."""
    result, ready = events_prepare(events, now=now)
    assert not result.refused
    inbox_add(service_id=service.pk, items=[item for _, item in ready], now=now)
    return [item["event_id"] for _, item in ready]


def in_function(name: str, **fields) -> dict:
    return event(exception("KeyError", "x", [frame("shop.views", name)]), timestamp=NOW.timestamp(), **fields)


def test_accepted_events_wait_in_the_inbox_until_the_drain_groups_them(service, django_assert_num_queries):
    events = [in_function("checkout") for _ in range(3)] + [in_function("refund")]
    _result, ready = events_prepare(events, now=NOW)
    with django_assert_num_queries(1):
        inbox_add(service_id=service.pk, items=[item for _, item in ready], now=NOW)
    assert ErrorInbox.objects.count() == 4 and not ErrorEvent.objects.exists()
    drained = inbox_drain(now=NOW)
    assert (drained.claimed, drained.stored, drained.dropped) == (4, 4, 0)
    assert sorted(ErrorGroup.objects.values_list("times_seen", flat=True)) == [1, 3]
    assert not ErrorInbox.objects.exists()


def test_the_inbox_holds_events_already_scrubbed(service):
    accept(service, [in_function("checkout", request={"headers": {"Authorization": "Bearer sk-live-123"}})])
    assert ErrorInbox.objects.get().request["headers"]["Authorization"] == SUBSTITUTE
    assert "sk-live-123" not in str(ErrorInbox.objects.values().get())
    inbox_drain(now=NOW)
    assert "sk-live-123" not in str(ErrorEvent.objects.get().request)


def test_two_drains_never_take_the_same_rows(service):
    accept(service, [in_function("checkout") for _ in range(5)])
    _first_token, first = inbox_claim(now=NOW, limit=3)
    _second_token, second = inbox_claim(now=NOW, limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {row["id"] for row in first} & {row["id"] for row in second}
    assert inbox_claim(now=NOW)[1] == []  # everything is claimed
    # A drain run meanwhile finds nothing to store; the claims' owners stay the only ones.
    assert inbox_drain(now=NOW).claimed == 0
    assert not ErrorEvent.objects.exists()


def test_rows_of_a_crashed_drain_are_claimed_again_after_the_timeout_and_stored_once(service):
    ids = accept(service, [in_function("checkout") for _ in range(3)])
    stale_token, rows = inbox_claim(now=NOW)  # ... and the drain dies here
    assert len(rows) == 3
    assert inbox_drain(now=NOW + CLAIM_TIMEOUT - timedelta(seconds=1)).claimed == 0
    assert inbox_drain(now=NOW + CLAIM_TIMEOUT + timedelta(seconds=1)).stored == 3
    assert sorted(ErrorEvent.objects.values_list("event_id", flat=True)) == sorted(ids)
    assert not ErrorInbox.objects.filter(claim=stale_token).exists()


def test_a_drain_that_stored_but_died_before_deleting_does_not_count_twice(service):
    accept(service, [in_function("checkout") for _ in range(2)])
    _token, rows = inbox_claim(now=NOW)
    inbox.events_store_prepared(service=service, items=[inbox._prepared(row) for row in rows], now=NOW)
    # It died before deleting its rows: the next claim after the timeout finds them stored.
    drained = inbox_drain(now=NOW + CLAIM_TIMEOUT + timedelta(seconds=1))
    assert (drained.stored, drained.duplicate) == (0, 2)
    assert ErrorGroup.objects.get().times_seen == 2
    assert not ErrorInbox.objects.exists()


def test_one_bad_event_does_not_keep_the_others_out(service, caplog, monkeypatch):
    ids = accept(service, [in_function("checkout"), in_function("refund")])
    not_prepared = ErrorInbox.objects.create(service=service, event_id="f" * 32, time=NOW, received_at=NOW)
    store = inbox.events_store_prepared

    def failing_for_one(*, service, items, now):
        if any(item["event_id"] == ids[0] for item in items):
            raise ValueError("the store cannot use it")
        return store(service=service, items=items, now=now)

    monkeypatch.setattr(inbox, "events_store_prepared", failing_for_one)
    drained = inbox_drain(now=NOW)
    assert (drained.claimed, drained.stored, drained.dropped) == (3, 1, 2)
    assert list(ErrorEvent.objects.values_list("event_id", flat=True)) == [ids[1]]
    assert not ErrorInbox.objects.exists()
    assert not_prepared.event_id in caplog.text and ids[0] in caplog.text


def test_the_drain_copies_the_event_as_the_request_prepared_it(service):
    [event_id] = accept(service, [in_function("checkout", tags={"region": "eu"}, release="shop@2")])
    prepared = ErrorInbox.objects.values("tags", "request", "exception", "data", "release").get()
    inbox_drain(now=NOW)
    stored = ErrorEvent.objects.values("event_id", "tags", "request", "exception", "data", "release", "received_at")
    assert stored.get() == {**prepared, "event_id": event_id, "received_at": NOW}
    assert stored.get()["exception"][0]["stacktrace"]["frames"][0]["function"] == "checkout"


def test_an_event_that_keeps_killing_the_drain_is_dropped_after_the_attempts(service):
    accept(service, [in_function("checkout")])
    ErrorInbox.objects.update(attempts=MAX_ATTEMPTS, claimed_at=NOW - CLAIM_TIMEOUT * 2)
    drained = inbox_drain(now=NOW)
    assert (drained.stored, drained.dropped) == (0, 1)
    assert not ErrorInbox.objects.exists()


def test_the_drain_works_in_batches_and_per_service(service, other_service):
    accept(service, [in_function("checkout") for _ in range(5)])
    accept(other_service, [in_function("checkout") for _ in range(2)])
    drained = inbox_drain(now=NOW, batch=3)
    assert (drained.batches, drained.stored) == (3, 7)
    assert dict(ErrorGroup.objects.values_list("service_id", "times_seen")) == {service.pk: 5, other_service.pk: 2}


def test_the_drain_queries_do_not_grow_with_the_events(service, django_assert_max_num_queries):
    def batch(count: int) -> None:
        accept(service, [in_function("checkout" if i % 2 else "refund") for i in range(count)])

    batch(2)
    inbox_drain(now=NOW)  # the two groups exist from here on
    batch(2)
    with django_assert_max_num_queries(30) as few:
        assert inbox_drain(now=NOW).stored == 2
    batch(300)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert inbox_drain(now=NOW).stored == 300


def test_a_drain_is_queued_once_until_it_runs(db, monkeypatch):
    queued = []
    monkeypatch.setattr(inbox, "async_task", lambda func, **kwargs: queued.append(func))
    cache.delete(inbox.WAKE_KEY)
    inbox_wake()
    inbox_wake()
    assert queued == ["monitoring.errors.tasks.inbox_drain"]
    assert tasks.inbox_drain()["claimed"] == 0  # the drain clears the mark first
    inbox_wake()
    assert len(queued) == 2
    cache.delete(inbox.WAKE_KEY)


def test_a_failing_queue_never_fails_the_ingest(monkeypatch, caplog):
    def broken(func, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(inbox, "async_task", broken)
    cache.delete(inbox.WAKE_KEY)
    inbox_wake()
    assert "per-minute sweep" in caplog.text
    cache.delete(inbox.WAKE_KEY)


def test_a_per_minute_sweep_drains_what_a_lost_wake_up_left():
    [sweep] = [s for s in declared_schedules() if s.name == "errors.inbox-drain"]
    assert (sweep.func, sweep.minutes) == ("monitoring.errors.tasks.inbox_drain", 1)


def test_what_the_fast_json_encoder_cannot_write_is_stored_exactly(service):
    # orjson writes the JSON columns; integers beyond 64 bits fall back to the stdlib encoder,
    # so they are stored as they came.
    extra = {"big": 2**70, "negative": -(2**64), "text": "é ✓", "nested": [{"n": 2**65}]}
    accept(service, [in_function("checkout", extra=extra)])
    inbox_drain(now=NOW)
    stored = ErrorEvent.objects.get().data["extra"]
    assert stored == extra and type(stored["big"]) is int


def test_a_lone_surrogate_is_stored_as_the_replacement_character_on_either_database(service):
    # Python's JSON decoder reads "\ud800" alone; it is no Unicode text and PostgreSQL's jsonb
    # refuses it, so it becomes U+FFFD (a whole pair stays as it is).
    extra = {"lone": "a\ud800b", "pair": "\U0001f600", "key\udfff": [2**70, "x\udc00"]}
    accept(service, [in_function("checkout", extra=extra)])
    inbox_drain(now=NOW)
    assert ErrorEvent.objects.get().data["extra"] == {
        "lone": "a\ufffdb",
        "pair": "\U0001f600",
        "key\ufffd": [2**70, "x\ufffd"],
    }


def test_nan_and_infinity_are_stored_as_null_by_either_encoder(service):
    # JSON has no NaN (the database refuses `NaN`), but the stdlib decoder reads it from a payload.
    accept(service, [in_function("a", extra={"nan": float("nan"), "inf": [float("inf")]})])
    accept(service, [in_function("b", extra={"nan": float("nan"), "big": 2**70, "inf": {"x": float("-inf")}})])
    inbox_drain(now=NOW)
    stored = sorted((event.data["extra"] for event in ErrorEvent.objects.all()), key=len)
    assert stored == [{"nan": None, "inf": [None]}, {"nan": None, "big": 2**70, "inf": {"x": None}}]


def test_the_json_columns_round_trip_as_the_stdlib_encoder_writes_them(service):
    accept(service, [in_function("checkout", tags={"browser": "Firefox ✓"}, extra={"f": 0.1, "n": [1, None, True]})])
    row = ErrorInbox.objects.get()
    prepared = events_prepare(
        [in_function("checkout", tags={"browser": "Firefox ✓"}, extra={"f": 0.1, "n": [1, None, True]})], now=NOW
    )[1][0][1]
    assert row.tags == prepared["event"]["tags"] and row.data["extra"] == prepared["event"]["extra"]
    assert row.exception == prepared["event"]["exception"]["values"]
