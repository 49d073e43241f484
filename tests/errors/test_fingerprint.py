"""Grouping: a small edit keeps the group, a different call path or exception makes another."""

import copy

from monitoring.errors.fingerprint import (
    default_parts,
    fingerprint,
    grouping_parts,
    normalize_message,
    title_and_culprit,
)
from tests.errors.builders import event, exception, frame, message_event


def _shifted(body: dict, by: int) -> dict:
    moved = copy.deepcopy(body)
    for exc in moved["exception"]["values"]:
        for f in exc["stacktrace"]["frames"]:
            f["lineno"] += by
            f["context_line"] = "    edited " + f["context_line"]
            f["abs_path"] = "/other/checkout" + f["abs_path"]
    moved["event_id"] = "0" * 32
    return moved


def test_same_error_at_shifted_lines_is_the_same_group():
    body = event()
    assert fingerprint(_shifted(body, 17)) == fingerprint(body)


def test_another_function_is_another_group():
    here = event(exception(frames=[frame("shop.views", "checkout"), frame("shop.cart", "total")]))
    there = event(exception(frames=[frame("shop.views", "checkout"), frame("shop.cart", "subtotal")]))
    assert fingerprint(here) != fingerprint(there)


def test_another_exception_type_is_another_group():
    assert fingerprint(event(exception("KeyError"))) != fingerprint(event(exception("ValueError")))


def test_the_message_does_not_split_a_group_with_a_stack():
    assert fingerprint(event(exception(value="user 1 missing"))) == fingerprint(event(exception(value="other text")))


def test_library_frames_do_not_count_when_there_are_in_app_frames():
    app = [frame("shop.views", "checkout")]
    one = event(exception(frames=[*app, frame("django.db", "execute", in_app=False)]))
    two = event(exception(frames=[*app, frame("psycopg.cursor", "run", in_app=False)]))
    assert fingerprint(one) == fingerprint(two)


def test_without_in_app_frames_all_frames_count():
    one = event(exception(frames=[frame("lib.a", "f", in_app=False)]))
    two = event(exception(frames=[frame("lib.a", "g", in_app=False)]))
    assert fingerprint(one) != fingerprint(two)
    assert default_parts(one) == ["type:ValueError", "lib.a.f"]


def test_chained_exceptions_are_part_of_the_key():
    cause = exception("KeyError", "'sku'", [frame("shop.stock", "lookup")])
    raised = exception("ValueError", "bad", [frame("shop.views", "checkout")])
    chained = event(cause, raised)
    other_cause = event(exception("TimeoutError", "", [frame("shop.stock", "lookup")]), raised)
    assert fingerprint(chained) != fingerprint(event(raised))
    assert fingerprint(chained) != fingerprint(other_cause)
    assert default_parts(chained) == ["type:KeyError", "shop.stock.lookup", "type:ValueError", "shop.views.checkout"]


def test_addresses_ids_and_generated_numbering_are_normalized():
    one = event(exception(frames=[frame("app.jobs", "run$1"), frame("app.x", "<lambda>")]))
    two = event(exception(frames=[frame("app.jobs", "run$27"), frame("app.x", "<lambda>")]))
    assert fingerprint(one) == fingerprint(two)


def test_module_less_frames_use_the_file_name():
    one = event(exception(frames=[{"filename": "/a/b/app.js", "function": "go", "lineno": 1, "in_app": True}]))
    two = event(exception(frames=[{"filename": "/c/app.js", "function": "go", "lineno": 9, "in_app": True}]))
    assert fingerprint(one) == fingerprint(two)


def test_no_stack_groups_by_normalized_message():
    one = event(exception("Timeout", "order 1234 at 0x7f00 (id 123e4567-e89b-12d3-a456-426614174000)", []))
    two = event(exception("Timeout", "order 99 at 0xdead (id 00000000-0000-0000-0000-000000000000)", []))
    three = event(exception("Timeout", "payment 99 failed", []))
    assert fingerprint(one) == fingerprint(two) != fingerprint(three)


def test_messages_group_by_template_or_normalized_text():
    assert fingerprint(message_event("disk 91% full")) == fingerprint(message_event("disk 97% full"))
    templated = {"logentry": {"message": "user %s failed", "formatted": "user bob failed"}}
    other = {"logentry": {"message": "user %s failed", "formatted": "user alice failed"}}
    assert fingerprint(templated) == fingerprint(other)
    assert normalize_message("deadbeefcafe 12 times") == "<hex> <n> times"


def test_sdk_fingerprint_replaces_or_extends_the_default():
    body = event(fingerprint=["payments", "{{ default }}"])
    assert grouping_parts(body) == ["custom:payments", *default_parts(body)]
    custom = event(fingerprint=["db-down"])
    other_stack = event(exception("OSError", frames=[frame("x.y", "z")]), fingerprint=["db-down"])
    assert fingerprint(custom) == fingerprint(other_stack)
    assert fingerprint(event(fingerprint=["{{default}}"])) == fingerprint(event())


def test_title_and_culprit_come_from_the_raised_exception_and_innermost_app_frame():
    cause = exception("KeyError", "'sku'", [frame("shop.stock", "lookup")])
    raised = exception("ValueError", "bad\nsecond line", [frame("shop.views", "checkout"), frame("shop.cart", "total")])
    assert title_and_culprit(event(cause, raised)) == ("ValueError: bad", "shop.cart in total")
    assert title_and_culprit(message_event("hello\nworld")) == ("hello", "")
