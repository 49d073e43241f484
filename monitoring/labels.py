"""Metric names and labels: validation and the canonical form used for grouping.

Imports nothing from Django, so the registry (hot path) and the ingest API share it.
"""

import hashlib
import json
import math
import re

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
MAX_LABELS = 16
MAX_LABEL_VALUE = 200
# Values are bounded so that aggregates stay finite and exact: integers up to 2**53 (~9.007e15)
# are exact doubles, and a sum over any window cannot leave the float range (that would take
# 1e293 samples), where two samples of 1e308 once made sum/avg/rate answer 500. 1e15 is a
# petabyte in bytes or 31 years in microseconds; larger quantities need a bigger unit.
MAX_ABS_VALUE = 1e15
OUT_OF_RANGE = f"must be between -{MAX_ABS_VALUE:g} and {MAX_ABS_VALUE:g}"
# Added by the query layer from the sample's service; a client may not set it.
RESERVED_LABELS = frozenset({"service", "quantile", "le"})

_valid_names: set[str] = set()  # names already checked: the hot path skips the regex


class MetricError(ValueError):
    """An invalid metric name, label or value; `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_name(name) -> str:
    if type(name) is str and name in _valid_names:
        return name
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise MetricError("name", "must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 characters)")
    if len(_valid_names) < 100_000:
        _valid_names.add(name)
    return name


def check_labels(labels) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise MetricError("labels", "must be an object of label name to string value")
    if len(labels) > MAX_LABELS:
        raise MetricError("labels", f"at most {MAX_LABELS} labels")
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_RE.match(key) or key.startswith("__"):
            raise MetricError("labels", f"invalid label name {key!r}")
        if key in RESERVED_LABELS:
            raise MetricError("labels", f"label name {key!r} is reserved")
        if not isinstance(value, str):
            raise MetricError("labels", f"label {key!r} must be a string")
        if len(value) > MAX_LABEL_VALUE:
            raise MetricError("labels", f"label {key!r} is longer than {MAX_LABEL_VALUE} characters")
        if "\x00" in value:  # PostgreSQL cannot store NUL in text or JSON: refuse it here, not with a 500
            raise MetricError(f"labels.{key}", "must not contain NUL (\\u0000) characters")
    return labels


def check_value(value) -> float:
    # Hot path of every record: exact type checks first (isinstance with a union costs ~90 ns).
    # One chained comparison also refuses NaN and +-inf (every comparison with them is false).
    kind = type(value)
    if kind is float:
        if -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
            return value
    elif kind is int:
        if -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
            return float(value)
        raise MetricError("value", OUT_OF_RANGE)
    # bool is an int in Python; True as a metric value is almost always a bug in the caller.
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise MetricError("value", "must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise MetricError("value", "must be finite (no NaN or infinity)")
    if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
        raise MetricError("value", OUT_OF_RANGE)
    return value


def labels_canonical(labels: dict[str, str]) -> str:
    """The one JSON text of a label set: sorted keys, no spaces. Equal sets, equal text."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if labels else "{}"


def labels_hash(canonical: str) -> str:
    """Short stable digest of the canonical labels; grouping key in the database."""
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


_label_cache: dict[tuple, tuple[str, str]] = {}
LABEL_CACHE_SIZE = 50_000


def labels_checked_key(labels) -> tuple[dict, str, str]:
    """Validate labels and return (labels, canonical JSON, hash), memoized per label set:
    a batch usually repeats a few label sets, and validating + serializing each costs ~6 µs."""
    if labels is None or (type(labels) is dict and not labels):
        return {}, "{}", _EMPTY_HASH
    if type(labels) is dict:
        try:
            found = _label_cache.get(tuple(labels.items()))
        except TypeError:  # unhashable values: let check_labels name the problem
            found = None
        if found is not None:
            return labels, found[0], found[1]
    labels = check_labels(labels)
    canonical = labels_canonical(labels)
    digest = labels_hash(canonical)
    if len(_label_cache) < LABEL_CACHE_SIZE:
        _label_cache[tuple(labels.items())] = (canonical, digest)
    return labels, canonical, digest


_EMPTY_HASH = labels_hash("{}")
