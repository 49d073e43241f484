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

COMPARATORS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
}
SYMBOLS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "="}
MATCH_OPS = ("=", "!=", "=~", "!~")


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
        hit = _regex(self.value).fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def parse_matchers(raw: Iterable) -> tuple[Matcher, ...]:
    """Validate the stored/submitted form: a list of {"label", "op", "value"} objects."""
    matchers = []
    for index, item in enumerate(raw or ()):
        if not isinstance(item, Mapping):
            raise MatcherError(f"matcher {index}: expected an object with label, op and value")
        label, op, value = item.get("label"), item.get("op", "="), item.get("value")
        if not isinstance(label, str) or not label:
            raise MatcherError(f"matcher {index}: label must be a non-empty string")
        if op not in MATCH_OPS:
            raise MatcherError(f"matcher {index}: op must be one of {', '.join(MATCH_OPS)}")
        if not isinstance(value, str):
            raise MatcherError(f"matcher {index}: value must be a string")
        if op in ("=~", "!~"):
            try:
                _regex(value)
            except re.error as exc:
                raise MatcherError(f"matcher {index}: invalid regular expression: {exc}") from exc
        matchers.append(Matcher(label, op, value))
    return tuple(matchers)


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
