"""JSON bodies are read as typed, the way the OpenAPI schema describes them.

DRF reads every body as if it came from a form, where each value is text: `"description": 0`
was stored as "0", `"min_pylint_score": false` as 0.0, `"enabled": "yes"` as true and
`"users": {}` as an empty list (found by the schema fuzzing). The API's bodies are JSON only
(settings' DEFAULT_PARSER_CLASSES), so a value of another type is the client's mistake and a
400 naming the field. Data that is text by nature (query parameters, the token exchange's form:
a QueryDict) is still read as before.

`install()` (from portal.api.urls, before any API view can run) wraps `to_internal_value` of
DRF's own field classes once: every serializer, declared fields and ModelSerializer's generated
ones alike, gets the rule without a base class to remember.
"""

from collections.abc import Callable

from django.http import QueryDict
from rest_framework import fields, relations
from rest_framework.exceptions import ValidationError

NUMBER = (int, float)


def _typed(field) -> bool:
    """Is this field reading JSON (a dict or list from the parser), not text from a QueryDict?"""
    data = getattr(field.root, "initial_data", None)
    return data is not None and not isinstance(data, QueryDict)


def _number(value) -> bool:
    return isinstance(value, NUMBER) and not isinstance(value, bool)


def _text(value) -> bool:
    return isinstance(value, str)


def _no_nul(value) -> bool:
    """No NUL character in any string of a JSON value, keys included: PostgreSQL stores none in
    text or jsonb and would fail the write with a 500 instead of this 400."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_no_nul(key) and _no_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_no_nul(item) for item in value)
    return True


# field class -> (is the value acceptable in JSON, what the 400 says otherwise)
RULES: dict[type, tuple[Callable[[object], bool], str]] = {
    fields.CharField: (_text, "Not a valid string (got {type})."),
    fields.DurationField: (_text, 'A duration as text, e.g. "00:05:00" (got {type}).'),
    fields.BooleanField: (lambda value: isinstance(value, bool), "Must be true or false (got {type})."),
    fields.IntegerField: (_number, "A valid integer is required (got {type})."),
    fields.FloatField: (_number, "A valid number is required (got {type})."),
    # Decimals are documented as strings (COERCE_DECIMAL_TO_STRING) and may come as numbers too.
    fields.DecimalField: (lambda value: not isinstance(value, bool), "A valid number is required (got {type})."),
    relations.PrimaryKeyRelatedField: (
        lambda value: isinstance(value, int) and not isinstance(value, bool),
        "Incorrect type. Expected pk value, received {type}.",
    ),
    # A slug is looked up in the database, where a NUL fails the query itself.
    relations.SlugRelatedField: (_no_nul, "Null characters are not allowed."),
    fields.JSONField: (_no_nul, "Null characters are not allowed."),
    relations.ManyRelatedField: (
        lambda value: isinstance(value, list),
        'Expected a list of items but got type "{type}".',
    ),
}


def _strict(cls: type, accepts: Callable[[object], bool], message: str):
    original = cls.to_internal_value

    def to_internal_value(self, data):
        if _typed(self) and not accepts(data):
            raise ValidationError(message.format(type=_json_type(data)), code="invalid")
        return original(self, data)

    to_internal_value.strict = True
    return to_internal_value


def _json_type(value) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def install() -> None:
    for cls, (accepts, message) in RULES.items():
        if not getattr(cls.to_internal_value, "strict", False):
            cls.to_internal_value = _strict(cls, accepts, message)
