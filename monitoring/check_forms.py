"""The health-check page form: the check's own fields through a ModelForm (so the model's
bounds apply), and one small field per config key of each kind instead of raw JSON.

Config values are parsed leniently (text that is not a number stays text) and then judged by
the kind's own `validate`, whose errors land on the field of the key they name: the page refuses
exactly what the admin and the API refuse.
"""

import json
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from django import forms

from monitoring.healthchecks.custom import registered
from monitoring.healthchecks.kinds import KINDS
from monitoring.models import HealthCheck
from monitoring.models.checks import CONFIG_FIELDS

MODEL_FIELDS = [name for name in CONFIG_FIELDS if name != "config"]
HEARTBEAT_FIELDS = ("period_seconds", "cron", "grace_seconds")


def _number(text: str):
    try:
        number = float(text)
    except ValueError:
        return text  # the kind's validate says what it should be
    return int(number) if number.is_integer() and "." not in text else number


def _numbers(text: str):
    """ "200" -> 200, "200, 204" -> [200, 204]."""
    parts = [p.strip() for p in text.split(",")]
    values = [_number(p) for p in parts]
    return values[0] if len(values) == 1 else values


def _pair(text: str):
    """ "80, 95" -> [80, 95] (degraded at, unhealthy at)."""
    values = [_number(p.strip()) for p in text.split(",")]
    return values if len(values) == 2 else text


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}") from exc


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class ConfigField:
    """One config key of a kind, as a form field."""

    key: str
    label: str
    parse: Callable[[str], Any] = str
    help: str = ""
    choices: tuple = ()
    checkbox: bool = False
    default: Any = None
    attrs: dict = field(default_factory=dict)

    def form_field(self) -> forms.Field:
        if self.checkbox:
            return forms.BooleanField(label=self.label, required=False, help_text=self.help)
        if self.choices:
            return forms.ChoiceField(label=self.label, required=False, help_text=self.help, choices=self.choices)
        widget = forms.Textarea(attrs={"rows": 2}) if self.parse is _json else forms.TextInput(attrs=self.attrs)
        return forms.CharField(label=self.label, required=False, help_text=self.help, widget=widget)


DEGRADED = ConfigField("degraded_ms", "Degraded above (ms)", _number, "Optional: slower answers count as degraded.")
PERCENT_HELP = "degraded at, unhealthy at (percent), e.g. 80, 95; blank: not checked"
KIND_FIELDS: dict[str, tuple[ConfigField, ...]] = {
    "http": (
        ConfigField("url", "URL", help="http:// or https://", attrs={"placeholder": "https://example.com/health"}),
        ConfigField("method", "Method", choices=(("GET", "GET"), ("HEAD", "HEAD"), ("POST", "POST")), default="GET"),
        ConfigField("expected_status", "Expected status", _numbers, "A code or a list: 200, 204", default=200),
        ConfigField("body_contains", "Body contains", help="Optional text the answer must contain."),
        DEGRADED,
        ConfigField("follow_redirects", "Follow redirects", checkbox=True, default=False),
        ConfigField("verify_tls", "Verify TLS certificate", checkbox=True, default=True),
    ),
    "tcp": (
        ConfigField("host", "Host"),
        ConfigField("port", "Port", _number),
        DEGRADED,
    ),
    "database": (
        ConfigField("alias", "Database alias", help="A configured database (default: default).", default="default"),
        DEGRADED,
    ),
    "system": (
        ConfigField("cpu_percent", "CPU %", _pair, PERCENT_HELP),
        ConfigField("memory_percent", "Memory %", _pair, PERCENT_HELP),
        ConfigField("disk_percent", "Disk %", _pair, PERCENT_HELP),
        ConfigField("disk_path", "Disk path", help="The mount to watch (default /)."),
    ),
    "heartbeat": (),  # its schedule is the check's own period/cron/grace fields
    "scrape": (
        ConfigField("target", "Scrape target id", _number, "The id of a scrape target of this check's service."),
        ConfigField("max_intervals", "Stale after (scrape periods)", _number, "Default 3, at most 100.", default=3),
        ConfigField("degraded_ms", "Degraded above (ms)", _number, "Optional: slower scrapes count as degraded."),
    ),
    "custom": (
        ConfigField(
            "name", "Custom check", help="A name registered in HEALTH_CUSTOM_CHECKS.", attrs={"list": "custom-checks"}
        ),
        ConfigField("params", "Parameters (JSON object)", _json, 'e.g. {"max_jobs": 500}'),
    ),
}
# A kind added later without a field list is configured with its JSON config.
RAW_CONFIG = (ConfigField("config", "Config (JSON object)", _json),)


def kind_fields(kind: str) -> tuple[ConfigField, ...]:
    return KIND_FIELDS.get(kind, RAW_CONFIG)


def field_name(kind: str, key: str) -> str:
    return f"{kind}_{key}"


class HealthCheckPageForm(forms.ModelForm):
    class Meta:
        model = HealthCheck
        fields = MODEL_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].empty_label = "the portal itself"
        stored = self.instance.config if self.instance.pk and isinstance(self.instance.config, dict) else {}
        for kind in KINDS:
            for spec in kind_fields(kind):
                name = field_name(kind, spec.key)
                self.fields[name] = spec.form_field()
                if self.instance.pk and kind == self.instance.kind:
                    value = stored if spec.key == "config" else stored.get(spec.key, spec.default)
                    self.initial[name] = value if spec.checkbox else _shown(value)
                elif spec.default is not None:
                    self.initial[name] = _shown(spec.default) if not spec.checkbox else spec.default

    def kind_groups(self):
        """(kind, label, bound fields) for the template, one fieldset per kind."""
        labels = dict(self.fields["kind"].choices)
        for kind in KINDS:
            names = [field_name(kind, s.key) for s in kind_fields(kind)]
            if kind == "heartbeat":
                names = list(HEARTBEAT_FIELDS)
            yield kind, labels.get(kind, kind), [self[name] for name in names]

    def custom_names(self) -> list[str]:
        return sorted(registered())

    def _config(self, kind: str) -> dict | None:
        """The config the submitted fields describe; keys the form does not show (HTTP headers)
        are kept from the stored config when the kind is unchanged."""
        keep = self.instance.pk and self.instance.kind == kind and isinstance(self.instance.config, dict)
        config = dict(self.instance.config) if keep else {}
        for spec in kind_fields(kind):
            name = field_name(kind, spec.key)
            if name not in self.cleaned_data:
                return None  # that field already has an error
            value = self.cleaned_data[name]
            if spec.key == "config":
                return value if value is not None else {}
            if spec.checkbox:
                config[spec.key] = bool(value)
            elif spec.parse is _json:
                if value is None:
                    config.pop(spec.key, None)
                else:
                    config[spec.key] = value
            elif value.strip():
                config[spec.key] = spec.parse(value.strip())
            else:
                config.pop(spec.key, None)
        return config

    def _field_for(self, kind: str, key: str) -> str | None:
        if key in HEARTBEAT_FIELDS:
            return key
        key = key.split(".", 1)[0]  # "params.max_jobs" belongs to the params field
        name = field_name(kind, key)
        if name in self.fields:
            return name
        specs = kind_fields(kind)
        return field_name(kind, specs[0].key) if specs else None

    def clean(self):
        cleaned = super().clean()
        kind_name = cleaned.get("kind")
        if kind_name not in KINDS:
            return cleaned
        self._parse_json(kind_name)
        config = self._config(kind_name)
        if config is None:
            return cleaned
        # The model judges (`HealthCheck.config_errors`); this form shows each error on its field.
        check = copy(self.instance)
        check.kind, check.config = kind_name, config
        check.period_seconds, check.cron = cleaned.get("period_seconds"), cleaned.get("cron", "")
        check.service = cleaned.get("service")
        for key, message in check.config_errors().items():
            target = self._field_for(kind_name, key)
            detail = message[:1].upper() + message[1:] + ("." if key == "config" else "")
            if target is not None and "." in key:
                detail = f"{key.split('.', 1)[1]}: {message}"
            self.add_error(target, detail if target else f"{key}: {message}")
        self.instance.config = config
        return cleaned

    def _parse_json(self, kind: str) -> None:
        for spec in kind_fields(kind):
            name = field_name(kind, spec.key)
            if spec.parse is _json and name in self.cleaned_data:
                text = (self.cleaned_data[name] or "").strip()
                if not text:
                    self.cleaned_data[name] = None
                    continue
                try:
                    self.cleaned_data[name] = _json(text)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
