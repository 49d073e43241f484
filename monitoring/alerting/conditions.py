"""Label matching, threshold comparison, fingerprints and annotation templates.

Framework-free (imports nothing from Django) so the evaluator's hot loop can be tested and
benchmarked alone.
"""

import hashlib
import json
import math
import operator
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import re2

COMPARATORS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
}
SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}
MATCH_OPS = ("=", "!=", "=~", "!~")
# Regex matchers run on RE2 (linear time, Prometheus' own syntax), never on Python's
# backtracking `re`: `(a|aa)+b` once held a worker, and SQLite's write lock, for a minute.
# Both lengths are bounded so one match costs microseconds whatever a silence or rule says.
MAX_PATTERN = 256  # characters of a `=~`/`!~` value
MAX_MATCH_VALUE = 4096  # characters of a label value a regex looks at; the rest is ignored
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the error goes back to whoever wrote the pattern, not stderr
_RE2_OPTIONS.never_capture = True  # only "does it match" is asked
_RE2_OPTIONS.max_mem = 1 << 20  # per pattern (default 8 MiB): a pattern needing more is refused


class MatcherError(ValueError):
    pass


@dataclass(frozen=True)
class Matcher:
    """One label condition, Prometheus-style: `label op value`. A missing label is ""."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = _regex(self.value).fullmatch(actual[:MAX_MATCH_VALUE]) is not None
        return hit if self.op == "=~" else not hit


@lru_cache(maxsize=1024)
def _regex(pattern: str):
    """A compiled RE2 pattern (anchored by `fullmatch`, like Prometheus). Raises MatcherError."""
    if len(pattern) > MAX_PATTERN:
        raise MatcherError(f"a regular expression may have at most {MAX_PATTERN} characters")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not a valid RE2 expression"
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise MatcherError(f"invalid regular expression: {reason}") from None


def parse_matchers(raw: Iterable) -> tuple[Matcher, ...]:
    """Validate the stored/submitted form: a list of {"label", "op", "value"} objects.
    Errors name the item and field, e.g. `matchers[2].value: invalid regular expression: …`."""
    matchers = []
    for index, item in enumerate(raw or ()):
        where = f"matchers[{index}]"
        if not isinstance(item, Mapping):
            raise MatcherError(f"{where}: expected an object with label, op and value")
        label, op, value = item.get("label"), item.get("op", "="), item.get("value")
        if not isinstance(label, str) or not label:
            raise MatcherError(f"{where}.label must be a non-empty string")
        if op not in MATCH_OPS:
            raise MatcherError(f"{where}.op must be one of {', '.join(MATCH_OPS)}")
        if not isinstance(value, str):
            raise MatcherError(f"{where}.value must be a string")
        if op in ("=~", "!~"):
            try:
                _regex(value)
            except MatcherError as exc:
                raise MatcherError(f"{where}.value: {exc}") from None
        matchers.append(Matcher(label, op, value))
    return tuple(matchers)


MAX_GROUP_BY = 16  # label names (a series has at most 16 labels)


def parse_group_by(raw) -> tuple[str, ...]:
    """A rule's `group_by`: distinct label names. Errors name the item."""
    if not isinstance(raw, list | tuple):
        raise MatcherError('group_by must be a list of label names, e.g. ["service", "route"]')
    if len(raw) > MAX_GROUP_BY:
        raise MatcherError(f"group_by may name at most {MAX_GROUP_BY} labels")
    for index, name in enumerate(raw):
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]{0,99}", name):
            raise MatcherError(f"group_by[{index}] must be a label name")
    if len(set(raw)) != len(raw):
        raise MatcherError("group_by names a label twice")
    return tuple(raw)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def condition_holds(value: float | None, op: str, threshold: float) -> bool:
    """NaN and missing values never hold: no data is not an incident."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return COMPARATORS[op](value, threshold)


def fingerprint(rule_id: int, labels: Mapping[str, str]) -> str:
    """Stable identity of one alert stream: the rule plus its (sorted) label set."""
    payload = json.dumps([rule_id, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:40]


MAX_FORMAT_NUMBER = 200


class _Keep(dict):
    """Leaves unknown placeholders visible instead of failing a notification over a typo."""

    def __missing__(self, key):
        return "{" + key + "}"


class _Formatter(string.Formatter):
    def get_value(self, key, args, kwargs):
        if isinstance(key, str):
            return kwargs[key] if key in kwargs else kwargs.__missing__(key)
        return super().get_value(key, args, kwargs)

    def format_field(self, value, format_spec):
        if any(int(n) > MAX_FORMAT_NUMBER for n in re.findall(r"\d+", format_spec)):
            return str(value)  # `{value:>999999999}` would build a gigabyte string in the evaluator
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def render_annotation(template: str, *, value, threshold, rule: str, labels: Mapping[str, str]) -> str:
    """`{value:.1f}`, `{threshold}`, `{rule}` and any label name (`{service}`, `{mount}`)."""
    if not template:
        return ""
    context = _Keep({**labels, "value": value, "threshold": threshold, "rule": rule})
    try:
        return _Formatter().vformat(template, (), context)
    except (ValueError, IndexError, AttributeError, KeyError):
        return template  # malformed braces: show the template rather than lose the alert
