"""Sentry transactions as request-duration samples, in the series the request middleware writes.

A transaction becomes one observation of `http_request_duration_seconds` for the sending service,
labelled {route: transaction name, method, status_class}, so SDK-instrumented services get the
same endpoint percentiles as the portal's own routes. Its spans are not stored.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from monitoring.ingest import Row, time_bounds
from monitoring.labels import MAX_LABEL_VALUE, MetricError, labels_checked_key
from monitoring.requests import METHODS, OTHER_METHOD, REQUEST_DURATION

NO_METHOD = "-"
# A transaction longer than a day is a clock error or a stuck span, not a request.
MAX_DURATION = 86_400.0
# Trace statuses (sentry-sdk's get_span_status_from_http_code) that stand for a 4xx answer; any
# other status but "ok" is an error of the server.
CLIENT_STATUSES = frozenset(
    {
        "cancelled",
        "invalid_argument",
        "not_found",
        "already_exists",
        "permission_denied",
        "resource_exhausted",
        "failed_precondition",
        "out_of_range",
        "unauthenticated",
    }
)
OK_STATUSES = frozenset({"ok", "unset", "", None})


@dataclass
class TransactionRows:
    rows: list[Row]
    dropped: dict[str, int]  # reason -> transactions left out


def event_time(raw) -> datetime | None:
    """Sentry times are RFC 3339 text (a naive one is UTC) or epoch seconds."""
    kind = type(raw)
    try:
        if kind is float or kind is int:
            return datetime.fromtimestamp(raw, tz=UTC)
        if kind is str:
            moment = datetime.fromisoformat(raw)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _tag(tags, name: str):
    if type(tags) is dict:
        return tags.get(name)
    if type(tags) is list:  # the older [[key, value], ...] form
        for pair in tags:
            if type(pair) is list and len(pair) == 2 and pair[0] == name:
                return pair[1]
    return None


def _dict(parent: dict, name: str) -> dict:
    value = parent.get(name)
    return value if type(value) is dict else {}


def _http_status(event: dict) -> int | None:
    """From the response context, the trace's data or the tag, whichever the SDK filled."""
    contexts = _dict(event, "contexts")
    candidates = (
        _dict(contexts, "response").get("status_code"),
        _dict(_dict(contexts, "trace"), "data").get("http.response.status_code"),
        _tag(event.get("tags"), "http.status_code"),
    )
    for raw in candidates:
        try:
            code = int(raw)
        except (TypeError, ValueError):
            continue
        if 100 <= code <= 599:
            return code
    return None


def status_class(event: dict) -> str:
    code = _http_status(event)
    if code is not None:
        return f"{code // 100}xx"
    status = _dict(_dict(event, "contexts"), "trace").get("status")
    if status in OK_STATUSES:
        return "2xx"
    return "4xx" if status in CLIENT_STATUSES else "5xx"


def method_of(event: dict) -> str:
    method = _dict(event, "request").get("method")
    if type(method) is not str or not method:
        return NO_METHOD
    method = method.upper()
    return method if method in METHODS else OTHER_METHOD


def transaction_rows(events: list[dict], *, service_id: int, now: datetime) -> TransactionRows:
    """Rows for the transactions that make a valid sample; the others are counted by reason
    (a transaction the metrics store cannot hold is dropped, not the envelope refused)."""
    oldest, newest = time_bounds(now)
    rows: list[Row] = []
    dropped: dict[str, int] = {}

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    for event in events:
        end, start = event_time(event.get("timestamp")), event_time(event.get("start_timestamp"))
        if end is None or start is None:
            drop("no timestamp or start_timestamp")
            continue
        duration = (end - start).total_seconds()
        if not 0 <= duration <= MAX_DURATION:
            drop("duration out of range")
            continue
        if not oldest <= end <= newest:
            drop("timestamp outside the retention")
            continue
        name = event.get("transaction")
        if type(name) is not str or not name:
            drop("no transaction name")
            continue
        labels = {"route": name[:MAX_LABEL_VALUE], "method": method_of(event), "status_class": status_class(event)}
        try:
            _, canonical, digest = labels_checked_key(labels)
        except MetricError:
            drop("invalid transaction name")
            continue
        rows.append((service_id, REQUEST_DURATION, canonical, digest, duration, end))
    return TransactionRows(rows=rows, dropped=dropped)
