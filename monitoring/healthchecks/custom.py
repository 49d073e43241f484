"""The registry behind the `custom` health-check kind.

The deployment names its callables in the `HEALTH_CUSTOM_CHECKS` setting (name → dotted path);
a check's config only ever picks one by *name* and passes it typed parameters:
`{"name": "queue_depth", "params": {"max_jobs": 500}}`. An import path never comes from the API
or the admin: when it did, `{"path": "subprocess.run", "kwargs": {"args": [...]}}` ran a shell
command as the portal's user on "run now".

A callable declares what it accepts with `@check_params(name=Param(int, min=.., max=..))`;
without that it takes no parameters. Numbers must be bounded, strings are bounded, every value
is checked on save and again before each run (the spec may have changed since).
"""

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

PARAMS_ATTR = "health_check_params"
_REQUIRED = object()
TYPES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class Param:
    """One parameter of a custom check: its type, bounds and default (absent: required)."""

    type: type
    default: Any = _REQUIRED
    min: float | None = None
    max: float | None = None
    max_length: int = 200
    choices: tuple = ()

    def __post_init__(self):
        if self.type not in TYPES:
            raise TypeError(f"a custom check parameter is int, float, str or bool, not {self.type!r}")
        if self.type in (int, float) and (self.min is None or self.max is None):
            raise TypeError("a numeric custom check parameter needs min and max")

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def clean(self, value):
        """The value as the callable gets it; ValueError says what is wrong."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError("must be a string")
            if len(value) > self.max_length:
                raise ValueError(f"must be at most {self.max_length} characters")
        else:
            # bool is an int in Python; an integral float (JSON 5.0) is accepted as an int.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"must be {TYPES[self.type]}")
            if not math.isfinite(value):
                raise ValueError("must be a finite number")
            if self.type is int:
                if value != int(value):
                    raise ValueError("must be an integer")
                value = int(value)
            else:
                value = float(value)
            if not self.min <= value <= self.max:
                raise ValueError(f"must be between {_shown(self.min)} and {_shown(self.max)}")
        if self.choices and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}")
        return value


def _shown(number: float) -> str:
    return f"{int(number):,}" if number == int(number) else f"{number:g}"


def check_params(**spec: Param):
    """Declare the parameters a custom check callable accepts (besides `check=`)."""
    for name, param in spec.items():
        if not isinstance(param, Param):
            raise TypeError(f"parameter {name!r}: declare it with Param(...)")

    def mark(func):
        setattr(func, PARAMS_ATTR, dict(spec))
        return func

    return mark


class CustomCheckError(Exception):
    """A config that cannot run; `errors` are by config key ("name", "params.seconds")."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"config.{key}: {message}" for key, message in errors.items()))


def registered() -> dict[str, str]:
    """Name → dotted path, as the deployment declared it (read each time: tests change it)."""
    return dict(getattr(settings, "HEALTH_CUSTOM_CHECKS", None) or {})


def _available() -> str:
    names = sorted(registered())
    if not names:
        return "no custom checks are registered (the HEALTH_CUSTOM_CHECKS setting is empty)"
    return f"available: {', '.join(names)}"


def custom_check_load(name: str):
    """The registered callable and its parameter spec; CustomCheckError when it cannot be had."""
    path = registered().get(name) if isinstance(name, str) else None
    if path is None:
        raise CustomCheckError({"name": f"is not a registered custom check; {_available()}"})
    try:
        func = import_string(path)
    except ImportError as exc:
        raise CustomCheckError({"name": f"is registered as {path}, which cannot be imported: {exc}"}) from exc
    if not callable(func):
        raise CustomCheckError({"name": f"is registered as {path}, which is not callable"})
    return func, getattr(func, PARAMS_ATTR, {})


def params_clean(spec: dict[str, Param], params) -> dict:
    """Defaults filled in and every value checked against the spec."""
    if not isinstance(params, dict):
        raise CustomCheckError({"params": "must be an object"})
    errors, cleaned = {}, {}
    for key in params:
        if key not in spec:
            accepted = ", ".join(sorted(spec)) or "none"
            errors[f"params.{key}"] = f"is not a parameter of this check (accepted: {accepted})"
    for key, param in spec.items():
        if key not in params:
            if param.required:
                errors[f"params.{key}"] = "is required"
            else:
                cleaned[key] = param.default
            continue
        try:
            cleaned[key] = param.clean(params[key])
        except ValueError as exc:
            errors[f"params.{key}"] = str(exc)
    if errors:
        raise CustomCheckError(errors)
    return cleaned


def custom_check_prepare(config) -> tuple:
    """(callable, cleaned params) for a stored or submitted config; CustomCheckError otherwise."""
    if not isinstance(config, dict):
        raise CustomCheckError({"config": "must be an object"})
    errors = {
        key: "is not accepted: choose a check by name from HEALTH_CUSTOM_CHECKS (import paths are refused)"
        for key in config
        if key not in ("name", "params")
    }
    if "name" not in config:
        errors["name"] = f"is required; {_available()}"
    if errors:
        raise CustomCheckError(errors)
    func, spec = custom_check_load(config["name"])
    return func, params_clean(spec, config.get("params", {}))


def registry_problems() -> list[str]:
    """What is wrong with the HEALTH_CUSTOM_CHECKS setting itself (for the system check)."""
    problems = []
    for name, path in registered().items():
        if not isinstance(path, str):
            problems.append(f"{name!r}: the dotted path must be a string")
            continue
        try:
            custom_check_load(name)
        except CustomCheckError as exc:
            problems.append(f"{name!r}: {exc.errors['name']}")
    return problems
