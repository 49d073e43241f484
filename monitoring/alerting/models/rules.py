"""What to watch: alert rules and their per-label-set evaluation state."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from monitoring.aggregations import AGGREGATIONS  # not from monitoring.query: that loads numpy
from monitoring.alerting.conditions import SYMBOLS, MatcherError, parse_group_by, parse_matchers

# Bounds said once, as field validators (the admin, the rule builder and the API all apply them).
# Every minute the evaluator reads each series' minute buckets over the window: a typo like 3650
# days would load years of rollups each minute (or overflow the date and stop evaluation).
MIN_WINDOW = timedelta(minutes=1)  # data is per minute
MAX_WINDOW = timedelta(hours=24)
MAX_FOR = timedelta(days=7)
MAX_HORIZON = timedelta(days=90)  # predict_linear: a straight line says little further out


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# What the query layer can compute is what a rule may ask for: the names are listed there once.
Aggregation = models.TextChoices("Aggregation", [(name.upper(), name) for name in AGGREGATIONS])


class Comparison(models.TextChoices):
    GT = "gt", "> greater than"
    GTE = "gte", "≥ greater or equal"
    LT = "lt", "< less than"
    LTE = "lte", "≤ less or equal"
    EQ = "eq", "= equal"


class RuleSource(models.TextChoices):
    METRIC = "metric", "Metric threshold"
    # One built-in rule watches every critical health check; each check is its own label set.
    HEALTH_CHECK = "health_check", "Critical health check unhealthy"
    # Raised by the error store (monitoring/errors) when a service opted in: a new error group or
    # a regression. The evaluator leaves these alerts alone; resolving the group resolves them.
    ERROR_GROUP = "error_group", "New or regressed error group"
    # One managed rule per Alertmanager/Grafana receiver (monitoring.integrations): alerts are
    # opened and resolved by the payloads that arrive; the evaluator leaves them alone too.
    EXTERNAL = "external", "Received from Alertmanager or Grafana"


def validate_matchers(value):
    try:
        parse_matchers(value)
    except MatcherError as exc:
        raise ValidationError(str(exc)) from exc


def validate_group_by(value):
    try:
        parse_group_by(value)
    except MatcherError as exc:
        raise ValidationError(str(exc)) from exc


# A ratio divides sums of samples or of counts; a ratio of two percentiles means nothing.
RATIO_AGGREGATIONS = ("count", "sum", "rate")


def duration_words(value: timedelta) -> str:
    """7d, 36h, 90m: the largest whole unit (Prometheus' style)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def validate_labels(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError('labels must be an object of strings, e.g. {"team": "payments"}')


MAX_MIN_COUNT = 1_000_000  # samples in a window (min_count)


class AlertRule(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=20, choices=RuleSource.choices, default=RuleSource.METRIC)
    metric = models.CharField(max_length=200, blank=True, help_text="Metric name, e.g. system_cpu_percent.")
    matchers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_matchers],
        help_text='Label matchers: [{"label": "cpu", "op": "=", "value": "total"}]; op is =, !=, =~ or !~.',
    )
    service = models.ForeignKey(
        "portal.Service",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text="Only series of this service (adds service=<slug> to the matchers).",
    )
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices, default=Aggregation.AVG)
    group_by = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_group_by],
        help_text='Merge the matching series that share these labels, e.g. ["service", "route"]; empty: '
        "each series is its own label set.",
    )
    ratio_matchers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_matchers],
        help_text="With these: the value is aggregation(series also matching these) / aggregation(all "
        'matching series) per group, e.g. [{"label": "status_class", "op": "=", "value": "5xx"}] with count '
        "gives the share of failed requests (0..1).",
    )
    min_count = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_MIN_COUNT)],
        help_text="A label set with fewer samples than this in the window has no value: it neither fires nor "
        "keeps an alert firing (one slow request at night is not a breach). 0: no minimum.",
    )
    window = models.DurationField(
        default=timedelta(minutes=5),
        validators=[
            MinValueValidator(MIN_WINDOW, message="The window must be at least one minute (data is per minute)."),
            MaxValueValidator(MAX_WINDOW, message="The window must be at most 24 hours."),
        ],
        help_text="Aggregate over this much recent data.",
    )
    horizon = models.DurationField(
        default=timedelta(0),
        validators=[
            MinValueValidator(timedelta(0), message="Must not be negative."),
            MaxValueValidator(MAX_HORIZON, message="Must be at most 90 days."),
        ],
        help_text="predict_linear only: how far after the window the fitted line is read, e.g. 7 days.",
    )
    comparison = models.CharField(max_length=3, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField(default=0)
    for_duration = models.DurationField(
        default=timedelta(0),
        validators=[
            MinValueValidator(timedelta(0), message="Must not be negative."),
            MaxValueValidator(MAX_FOR, message="Must be at most 7 days."),
        ],
        help_text="The condition must hold this long before the alert fires.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(default=dict, blank=True, validators=[validate_labels])
    summary = models.CharField(
        max_length=300, blank=True, help_text="Template: {value:.1f}, {threshold}, {rule} and label names."
    )
    annotation = models.TextField(blank=True, help_text="Description template (same placeholders).")
    escalation_policy = models.ForeignKey(
        "alerting.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="rules"
    )
    channels = models.ManyToManyField(
        "alerting.Channel", blank=True, related_name="rules", help_text="Notified when an alert fires and resolves."
    )
    enabled = models.BooleanField(default=True)
    builtin = models.BooleanField(default=False, editable=False, help_text="Installed by portal_setup.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["enabled", "metric"])]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.source == RuleSource.METRIC and not self.metric:
            raise ValidationError({"metric": "A metric rule needs a metric name."})
        if self.ratio_matchers and self.aggregation not in RATIO_AGGREGATIONS:
            raise ValidationError({"aggregation": f"A ratio needs one of {', '.join(RATIO_AGGREGATIONS)}."})
        if self.horizon and self.aggregation != "predict_linear":
            raise ValidationError({"horizon": "A horizon is read by predict_linear only."})
        if self.ratio_matchers and not self.group_by:
            raise ValidationError({"group_by": 'A ratio compares groups of series: set group_by, e.g. ["service"].'})

    def out_of_bounds(self) -> str:
        """What is wrong with a row written around the validators (a shell, a bulk update), or ''.
        The evaluator skips such a rule and says why instead of computing with its numbers."""
        for name in ("window", "for_duration", "horizon"):
            value = getattr(self, name)
            try:
                if value is None:
                    raise ValidationError("is empty")
                self._meta.get_field(name).run_validators(value)
            except ValidationError as exc:
                return f"{name} = {value}: {' '.join(exc.messages)}"
        return ""

    @property
    def condition_text(self) -> str:
        if self.source == RuleSource.HEALTH_CHECK:
            return "critical health check is unhealthy"
        if self.source == RuleSource.ERROR_GROUP:
            return "new or regressed error group (services that opted in)"
        if self.source == RuleSource.EXTERNAL:
            return "firing in the sending Alertmanager or Grafana"
        minutes = int(self.window.total_seconds() // 60)
        selected = f"{self.metric}[{minutes}m]"
        expression = f"{self.aggregation}({selected})"
        if self.aggregation == "predict_linear":
            expression = f"predict_linear({selected}, {duration_words(self.horizon)})"
        if self.ratio_matchers:
            part = ",".join(f'{m["label"]}{m.get("op", "=")}"{m["value"]}"' for m in self.ratio_matchers)
            expression = f"{self.aggregation}({self.metric}{{{part}}}[{minutes}m]) / {expression}"
        if self.group_by:
            expression += f" by ({', '.join(self.group_by)})"
        return f"{expression} {SYMBOLS[self.comparison]} {self.threshold:g}"

    def all_matchers(self):
        """Stored matchers plus the service scope, parsed."""
        raw = list(self.matchers or ())
        if self.service_id:
            raw.append({"label": "service", "op": "=", "value": self.service.slug})
        return parse_matchers(raw)


class RuleState(models.Model):
    """Where one label set of one rule stands between evaluations.

    Only transitions write here (ok→pending, pending→firing, →ok), so a quiet minute costs no
    writes. "Pending" is derived: active_since is set and the alert has not fired yet.
    """

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    fingerprint = models.CharField(max_length=40)
    labels = models.JSONField(default=dict)
    active_since = models.DateTimeField(null=True, blank=True, help_text="Condition true since (None: ok).")
    value = models.FloatField(null=True, blank=True, help_text="Evaluated value at the last transition.")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "fingerprint"], name="alerting_rulestate_unique")]

    def __str__(self) -> str:
        return f"{self.rule} {self.labels}"

    def is_pending(self, now) -> bool:
        """Condition true, `for` not elapsed yet (past it, the alert has fired)."""
        return self.active_since is not None and now - self.active_since < self.rule.for_duration

    def fires_at(self):
        return self.active_since + self.rule.for_duration if self.active_since else None
