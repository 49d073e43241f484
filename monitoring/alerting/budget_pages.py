"""/monitoring/budgets/: every performance budget, what it is evaluated as, and whether it is
breached now (an open alert of its rule). Changing budgets is in the admin and the API."""

from django.shortcuts import render

from monitoring.alerting.models import Alert, PerformanceBudget
from portal.access import viewer_required


@viewer_required
def budget_list(request):
    budgets = list(PerformanceBudget.objects.select_related("service", "rule__service"))
    breached: dict[int, Alert] = {}
    # Filtered by a join on the budget table, not `rule__in=<ids>`: no parameter per budget.
    for alert in Alert.objects.open().filter(rule__budget__isnull=False).order_by("created_at"):
        breached.setdefault(alert.rule_id, alert)
    rows = [(b, breached.get(b.rule_id)) for b in budgets]
    return render(request, "alerting/budget_list.html", {"rows": rows})
