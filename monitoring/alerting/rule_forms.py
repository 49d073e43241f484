"""The rule builder's form: a ModelForm, so the model's validators and `clean()` (window and
`for` bounds, matchers through `parse_matchers`) refuse here what the admin and the API refuse."""

import re
from datetime import timedelta

from django import forms

from monitoring.alerting.models import AlertRule
from monitoring.alerting.preview import duration_text

DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
DURATION_HELP = "e.g. 30s, 5m, 1h30m, 2d"


class DurationText(forms.DurationField):
    """A duration written with units (5m, 1h30m), or Django's [DD ]HH:MM:SS."""

    default_error_messages = {"invalid": f"Enter a duration with units, {DURATION_HELP}."}

    def prepare_value(self, value):
        return duration_text(value) if isinstance(value, timedelta) else value

    def to_python(self, value):
        if isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            match = DURATION_RE.match(text)
            if text and match:
                days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
                try:
                    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
                except OverflowError:
                    raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
            if text and ":" not in text:  # a bare number: seconds or minutes? Ask for a unit.
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


def _duration_field(name: str) -> DurationText:
    model_field = AlertRule._meta.get_field(name)
    return DurationText(
        initial=model_field.default, help_text=f"{model_field.help_text} ({DURATION_HELP})", widget=forms.TextInput
    )


class HorizonText(DurationText):
    """The horizon, read by predict_linear only: empty (shown for 0) means none."""

    def prepare_value(self, value):
        return "" if value == timedelta(0) else super().prepare_value(value)


# What the evaluator reads: the preview validates only these, so a half-filled form previews.
CONDITION_FIELDS = [
    "metric",
    "service",
    "matchers",
    "aggregation",
    "window",
    "horizon",
    "comparison",
    "threshold",
    "for_duration",
]


class RuleConditionForm(forms.ModelForm):
    window = _duration_field("window")
    horizon = HorizonText(
        required=False,
        help_text="Required for predict_linear: how far after the window the fitted line is read "
        f"(at most 90 days, {DURATION_HELP}). Leave empty for the other aggregations.",
        widget=forms.TextInput,
    )
    for_duration = _duration_field("for_duration")

    class Meta:
        model = AlertRule
        fields = CONDITION_FIELDS
        widgets = {
            "metric": forms.TextInput(attrs={"list": "metric-names", "autocomplete": "off"}),
            "matchers": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"for_duration": "For"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].required = True
        self.fields["service"].empty_label = "any service"

    def clean_matchers(self):
        return self.cleaned_data.get("matchers") or []

    def clean(self):
        """An empty horizon is 0, which every aggregation but predict_linear has; predict_linear
        needs one written. The model refuses a horizon on another aggregation (and its bounds)."""
        cleaned = super().clean()
        if "horizon" in self.errors or cleaned.get("horizon") is not None:
            return cleaned
        if cleaned.get("aggregation") == "predict_linear":
            self.add_error("horizon", "predict_linear needs a horizon: how far ahead to read the line, e.g. 7d.")
        else:
            cleaned["horizon"] = timedelta(0)
        return cleaned


class AlertRuleForm(RuleConditionForm):
    class Meta(RuleConditionForm.Meta):
        fields = [
            "name",
            *CONDITION_FIELDS,
            "severity",
            "channels",
            "escalation_policy",
            "labels",
            "summary",
            "annotation",
            "description",
            "enabled",
        ]
        widgets = {
            **RuleConditionForm.Meta.widgets,
            "channels": forms.CheckboxSelectMultiple,
            "labels": forms.Textarea(attrs={"rows": 2}),
            "annotation": forms.Textarea(attrs={"rows": 2}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["escalation_policy"].empty_label = "none"

    def clean_labels(self):
        return self.cleaned_data.get("labels") or {}
