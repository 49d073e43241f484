"""The portal's own failures become error events: capture_exception/capture_message, an unhandled
exception in a view (through Django's real request handling) and a failing django-q2 task."""

import traceback
from multiprocessing import Queue, Value

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path
from django_q.tasks import async_task
from django_q.worker import worker

from monitoring.errors.capture import (
    capture_exception,
    capture_message,
    capture_task_failure,
    exception_values_from_text,
)
from monitoring.errors.models import ErrorEvent, ErrorGroup
from monitoring.hosts import portal_service
from portal.lib.masking import SUBSTITUTE

pytestmark = pytest.mark.django_db


class CartError(Exception):
    pass


def _lookup(sku):
    raise KeyError(sku)


def _checkout(api_key="key-abc"):
    try:
        _lookup("sku-1")
    except KeyError as exc:
        raise CartError("cannot price the cart") from exc


def broken_view(request, order: int):
    _checkout()
    return HttpResponse("unreachable")


def failing_task(n):
    raise ZeroDivisionError(f"{n} / 0")


urlpatterns = [path("orders/<int:order>/pay/", broken_view)]


def test_capture_exception_builds_a_stack_with_context_and_chain():
    try:
        _checkout()
    except CartError as exc:
        event_id = capture_exception(exc, tags={"feature": "cart"})
    stored = ErrorEvent.objects.get(event_id=event_id)
    assert stored.service == portal_service()
    assert [e["type"] for e in stored.exception] == ["KeyError", "CartError"]
    cause_frames = stored.exception[0]["stacktrace"]["frames"]
    inner = cause_frames[-1]
    assert inner["function"] == "_lookup" and inner["in_app"] is True
    assert inner["module"] == "tests.errors.test_capture"
    assert inner["context_line"].strip() == "raise KeyError(sku)"
    assert inner["pre_context"][-1].strip() == "def _lookup(sku):"
    outer = stored.exception[1]["stacktrace"]["frames"][-1]
    assert outer["vars"]["api_key"] == SUBSTITUTE  # frame variables are scrubbed too
    assert stored.tags["feature"] == "cart"
    assert stored.group.title == "CartError: cannot price the cart"


def test_capture_exception_without_an_exception_or_when_storing_fails(monkeypatch):
    assert capture_exception() is None

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("monitoring.errors.capture.events_store", broken)
    assert capture_exception(ValueError("x")) is None  # logged, never raised
    assert capture_message("hello") is None


def test_capture_message_groups_by_text(service):
    first = capture_message("payment 1 took 30 s", level="warning", service=service)
    capture_message("payment 2 took 31 s", level="warning", service=service)
    group = ErrorGroup.objects.get(service=service)
    assert group.times_seen == 2 and group.level == "warning"
    assert ErrorEvent.objects.get(event_id=first).message == "payment 1 took 30 s"


@override_settings(ROOT_URLCONF=__name__)
def test_an_unhandled_view_exception_is_captured_once_with_request_data(users):
    client = Client(raise_request_exception=False)
    client.force_login(users["viewer"])
    client.cookies["sessionid"] = client.cookies["sessionid"].value
    response = client.post(
        "/orders/7/pay/?coupon=x&token=t0k", {"card": "4111", "password": "pw"}, HTTP_AUTHORIZATION="Bearer zzz"
    )
    assert response.status_code == 500
    stored = ErrorEvent.objects.get()
    assert stored.service == portal_service()
    assert stored.exception[-1]["mechanism"] == {"type": "django", "handled": False}
    assert stored.transaction == "/orders/<int:order>/pay/"
    assert stored.request["method"] == "POST"
    assert stored.request["query_string"] == f"coupon=x&token={SUBSTITUTE}"
    assert stored.request["data"]["password"] == SUBSTITUTE
    assert stored.request["headers"]["Authorization"] == SUBSTITUTE
    assert stored.request["cookies"]["sessionid"] == SUBSTITUTE
    assert stored.user["username"] == "viewer"
    assert stored.group.users_affected == 1
    assert stored.group.culprit == "tests.errors.test_capture in _checkout"


@override_settings(ROOT_URLCONF=__name__, ERRORS_CAPTURE_ENABLED=False)
def test_capture_can_be_switched_off(users):
    client = Client(raise_request_exception=False)
    client.force_login(users["viewer"])
    assert client.get("/orders/7/pay/").status_code == 500
    assert not ErrorEvent.objects.exists()


def test_a_failing_task_is_captured(settings):
    with pytest.raises(ZeroDivisionError):
        async_task("tests.errors.test_capture.failing_task", 5, sync=True, task_name="divide")
    stored = ErrorEvent.objects.get()
    assert stored.exception[-1]["type"] == "ZeroDivisionError"
    assert stored.exception[-1]["mechanism"]["type"] == "django_q"
    assert stored.tags == {"task": "divide", "func": "tests.errors.test_capture.failing_task"}
    assert stored.exception[-1]["stacktrace"]["frames"][-1]["function"] == "failing_task"


def test_a_worker_failure_is_rebuilt_from_the_traceback_text():
    try:
        _checkout()
    except CartError as exc:
        # What a django-q2 worker keeps of a failure: f"{e} : {traceback.format_exc()}".
        result = f"{exc} : {traceback.format_exc()}"
        direct = ErrorGroup.objects.get(pk=ErrorEvent.objects.get(event_id=capture_exception(exc)).group_id)
    values = exception_values_from_text(result)
    assert [(v["module"], v["type"], v["value"]) for v in values] == [
        ("builtins", "KeyError", "'sku-1'"),
        ("tests.errors.test_capture", "CartError", "cannot price the cart"),
    ]
    frame = values[0]["stacktrace"]["frames"][-1]
    assert (frame["module"], frame["function"], frame["in_app"]) == ("tests.errors.test_capture", "_lookup", True)
    assert frame["context_line"].strip() == "raise KeyError(sku)"
    event_id = capture_task_failure({"name": "t", "func": "x.y", "success": False, "result": result})
    # Rebuilt from text, it still lands in the same group as the live exception.
    assert ErrorEvent.objects.get(event_id=event_id).group_id == direct.pk


@pytest.mark.django_db(transaction=True)  # the worker closes and reopens database connections
def test_a_task_failing_in_a_worker_is_captured():
    # The worker loop itself (as a qcluster process runs it), with a task that is not `sync`:
    # django-q2 reports the failure only as text there.
    tasks, results = Queue(), Queue()
    tasks.put({"id": "a" * 32, "name": "divide", "func": "tests.errors.test_capture.failing_task", "args": (7,),
               "kwargs": {}})  # fmt: skip
    tasks.put("STOP")
    worker(tasks, results, Value("f", -1))
    assert results.get(timeout=5)["success"] is False
    stored = ErrorEvent.objects.get()
    assert (stored.exception[-1]["type"], stored.exception[-1]["value"]) == ("ZeroDivisionError", "7 / 0")
    assert stored.exception[-1]["stacktrace"]["frames"][-1]["function"] == "failing_task"
    assert stored.tags["task"] == "divide"
    tasks.close()
    results.close()
