"""The rule builder (admins): list, create and edit metric rules with a live preview.

Saving is the plain ModelForm save the admin does, with the admin's side effect: unticking
`enabled` resolves the rule's open alerts through `rule_disable`.
"""

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from monitoring.alerting.models import AlertRule, PerformanceBudget, RuleSource
from monitoring.alerting.models.alerts import OPEN_STATUSES
from monitoring.alerting.preview import MAX_CHART_SERIES, duration_text, rule_preview
from monitoring.alerting.rule_forms import AlertRuleForm, RuleConditionForm
from monitoring.alerting.rules import rule_disable
from monitoring.models import Metric
from monitoring.query import series_list
from portal.access import role_required
from portal.charts import PortalChartView
from portal.roles import ADMIN, has_role

admin_required = role_required(ADMIN)
LABEL_LOOKBACK = timedelta(hours=24)
MAX_LABEL_VALUES = 100
MAX_METRIC_NAMES = 2000


def json_denied(request) -> JsonResponse | None:
    """JSON endpoints answer 403 (not a login redirect) to anyone who is not an admin."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Authentication required."}, status=403)
    if not has_role(request.user, ADMIN):
        return JsonResponse({"detail": "This needs the admin role."}, status=403)
    return None


def form_errors(form) -> dict[str, list[str]]:
    return {field: [e["message"] for e in errors] for field, errors in form.errors.get_json_data().items()}


@admin_required
def rule_list(request):
    rules = (
        AlertRule.objects.select_related("service", "escalation_policy")
        .annotate(
            channel_count=Count("channels", distinct=True),
            open_alerts=Count("alerts", filter=Q(alerts__status__in=OPEN_STATUSES), distinct=True),
        )
        .order_by("name")
    )
    rows = [(rule, duration_text(rule.for_duration)) for rule in rules]
    return render(request, "alerting/rule_list.html", {"rows": rows})


def _form_page(request, form, rule=None):
    context = {
        "form": form,
        "rule": rule,
        "metric_names": Metric.objects.order_by("name").values_list("name", flat=True)[:MAX_METRIC_NAMES],
        "max_series": MAX_CHART_SERIES,
    }
    return render(request, "alerting/rule_form.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "POST"])
@admin_required
def rule_create(request):
    form = AlertRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Rule {rule.name!r} created; it is evaluated from the next minute.")
        return redirect("alerting:rules")
    return _form_page(request, form)


@require_http_methods(["GET", "POST"])
@admin_required
def rule_edit(request, pk: int):
    rule = get_object_or_404(AlertRule, pk=pk)
    if rule.source != RuleSource.METRIC:
        raise Http404("Only metric rules are edited here; the built-in health rule is in the admin.")
    if PerformanceBudget.objects.filter(rule=rule).exists():
        messages.info(request, f"{rule.name!r} is evaluated for a performance budget: change the budget.")
        return redirect("monitoring:budgets")
    was_enabled = rule.enabled
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            rule = form.save()
            if was_enabled and not rule.enabled:
                resolved = rule_disable(rule=rule, by=request.user, via="rule builder")
                messages.info(request, f"Rule disabled: {resolved} open alert(s) resolved.")
        messages.success(request, f"Rule {rule.name!r} saved.")
        return redirect("alerting:rules")
    return _form_page(request, form, rule)


@require_GET
def rule_labels(request):
    """Label names and values the metric had in the last 24 h: {"labels": {"route": ["/a", ...]}}."""
    denied = json_denied(request)
    if denied:
        return denied
    metric = request.GET.get("metric", "").strip()
    if not metric:
        return JsonResponse({"metric": metric, "labels": {}})
    now = timezone.now()
    values: dict[str, set[str]] = {}
    for key in series_list(name=metric, since=now - LABEL_LOOKBACK, until=now):
        for name, value in key:
            values.setdefault(name, set()).add(value)
    labels = {name: sorted(found)[:MAX_LABEL_VALUES] for name, found in sorted(values.items())}
    return JsonResponse({"metric": metric, "labels": labels})


class RulePreviewChart(PortalChartView):
    """The rule's aggregation over the last 24 h (one line per label set, the closest to firing
    first) plus the threshold, and whether it would fire now. Query string: the builder's
    condition fields; invalid ones answer 400 {"errors": {field: [message]}}."""

    def dispatch(self, request, *args, **kwargs):
        return json_denied(request) or super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        form = RuleConditionForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"errors": form_errors(form)}, status=400)
        self.rule = form.instance
        self.preview = rule_preview(rule=self.rule, now=timezone.now())
        self.shown = self.preview.series[:MAX_CHART_SERIES]
        return super().get(request, *args, **kwargs)

    def get_labels(self):
        return [timezone.localtime(t).strftime("%H:%M") for t in self.preview.times]  # UTC steps, read locally

    def get_providers(self):
        names = [", ".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or self.rule.metric for s in self.shown]
        return [*names, f"threshold {self.rule.threshold:g}"]

    def get_data(self):
        lines = [list(s.values) for s in self.shown]  # unrounded: the evaluator's numbers
        return [*lines, [self.rule.threshold] * len(self.preview.times)]

    def get_dataset_options(self, index, color):
        options = super().get_dataset_options(index, color)
        if index == len(self.shown):  # the threshold
            options.update(borderColor="rgb(179, 38, 30)", borderDash=[6, 4], backgroundColor="transparent")
        return options

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        preview = self.preview
        context.update(
            times=[t.isoformat() for t in preview.times],
            would_fire=preview.would_fire,
            value=preview.value,
            text=preview.text,
            threshold=self.rule.threshold,
            series_count=len(preview.series),
            firing_count=len(preview.firing),
        )
        return context
