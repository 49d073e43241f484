"""Digest sections: a registry of name -> provider(period) -> figures dict + templates.

Every provider returns plain JSON-able figures in one shape, so one pair of templates
(reporting/report/section.html and .txt) renders them all; a section may name its own:
  {"title": str, "facts": [[label, value], ...], "columns": [...], "rows": [[...], ...],
   "note": str}
Providers read other apps only through their query functions and must work with whatever
data exists; a provider that raises is shown as "not available" by the builder instead of
losing the whole report.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from codehealth.models import DebtItem
from maintenance.summary import maintenance_summary, open_vulnerabilities
from monitoring.alerting.models import Alert
from monitoring.errors.models import ErrorGroup
from reporting.models import SECTION_NAMES

# Engineer-independent parts: the operations figures and feature analysis are used when their
# modules are installed; otherwise the sections fall back to a simple count from the rows.
try:
    from reporting import operations
except ImportError:  # pragma: no cover - depends on what is installed
    operations = None
try:
    from analytics import performance
except ImportError:  # pragma: no cover
    performance = None

MAX_ROWS = 10  # rows per section table: a digest is a summary, the pages have the rest


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    provider: Callable[[Period], dict]
    html_template: str = "reporting/report/section.html"
    text_template: str = "reporting/report/section.txt"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def alerts_section(period: Period) -> dict:
    if operations is not None:
        rows = operations.alert_figures(since=period.start, until=period.end, by="severity")
        total = sum(r.count for r in rows)
        acked = sum(r.acknowledged for r in rows)
        resolved = sum(r.resolved for r in rows)
        return {
            "facts": [["Alerts", total], ["Acknowledged", acked], ["Resolved", resolved]],
            "columns": ["Severity", "Alerts", "MTTA (mean)", "MTTR (mean)"],
            "rows": [[r.key, r.count, _minutes(r.mtta_mean), _minutes(r.mttr_mean)] for r in rows[:MAX_ROWS]],
            "note": "",
        }
    counts = Alert.objects.filter(created_at__gte=period.start, created_at__lt=period.end).aggregate(
        total=Count("id"), resolved=Count("id", filter=Q(resolved_at__isnull=False))
    )
    return {
        "facts": [["Alerts", counts["total"]], ["Resolved", counts["resolved"]]],
        "columns": [],
        "rows": [],
        "note": "Counts only: MTTA/MTTR need reporting.operations.",
    }


def uptime_section(period: Period) -> dict:
    if operations is None:
        return {"facts": [], "columns": [], "rows": [], "note": "Uptime needs reporting.operations."}
    _checks, services = operations.uptime(since=period.start, until=period.end)
    services = sorted(services, key=lambda u: (u.percent if u.percent is not None else 101, u.key))
    return {
        "facts": [["Services with checks", len(services)]],
        "columns": ["Service", "Uptime"],
        "rows": [[u.key, "no data" if u.percent is None else f"{u.percent:.2f} %"] for u in services[:MAX_ROWS]],
        "note": "Lowest first.",
    }


def errors_section(period: Period) -> dict:
    groups = ErrorGroup.objects.filter(
        first_seen__gte=period.start, first_seen__lt=period.end, merged_into__isnull=True
    )
    total = groups.count()
    top = groups.select_related("service").order_by("-times_seen", "id")[:MAX_ROWS]
    return {
        "facts": [["New error groups", total]],
        "columns": ["Service", "Error", "Seen"],
        "rows": [[g.service.slug, g.title, g.times_seen] for g in top],
        "note": "",
    }


def debt_section(period: Period) -> dict:
    opened = DebtItem.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    fixed = DebtItem.objects.filter(
        status=DebtItem.Status.FIXED, updated_at__gte=period.start, updated_at__lt=period.end
    )
    figures = {
        "opened": opened.count(),
        "fixed": fixed.count(),
        "open_now": DebtItem.objects.filter(status=DebtItem.Status.OPEN).count(),
    }
    return {
        "facts": [
            ["New debt items", figures["opened"]],
            ["Fixed", figures["fixed"]],
            ["Change", figures["opened"] - figures["fixed"]],
            ["Open now", figures["open_now"]],
        ],
        "columns": [],
        "rows": [],
        "note": "",
    }


def dependencies_section(period: Period) -> dict:
    found = open_vulnerabilities()
    vulns = found["vulnerabilities"]
    return {
        "facts": [
            ["Open vulnerabilities", len(vulns)],
            ["Environments not fully audited", found["incomplete_environments"]],
        ],
        "columns": ["Package", "Version", "Advisory", "Fixed in"],
        "rows": [[v["package"], v["version"], v["id"], ", ".join(v["fix_versions"])] for v in vulns[:MAX_ROWS]],
        "note": "From each environment's latest audit.",
    }


def maintenance_section(period: Period) -> dict:
    days = max(1, min(366, round(period.days)))
    summary = maintenance_summary(days=days, now=period.end)
    return {
        "facts": [
            ["Packages updated", summary.get("packages_updated", 0)],
            ["Files removed", summary.get("files_removed", 0)],
            ["Bytes freed", summary.get("bytes_freed", 0)],
        ],
        "columns": ["Run status", "Runs"],
        "rows": [[k, v] for k, v in sorted(summary.get("runs_by_status", {}).items())],
        "note": f"Over the last {days} UTC day(s).",
    }


def features_section(period: Period) -> dict:
    if performance is None:
        return {"facts": [], "columns": [], "rows": [], "note": "Feature figures need analytics.performance."}
    window = performance.Window(period.start, period.end)
    now = performance.feature_accs(window, by_service=False)
    before = performance.feature_accs(window.previous(), by_service=False)
    top = sorted(now.items(), key=lambda kv: (-kv[1].count, kv[0][1]))[:MAX_ROWS]
    # "Unused": used in the previous period of the same length, not at all in this one.
    unused = sorted(key[1] for key in before if key not in now and before[key].count)
    return {
        "facts": [["Features used", len(now)], ["Used before, not in this period", len(unused)]],
        "columns": ["Feature", "Uses", "Uses before"],
        "rows": [[key[1], acc.count, before[key].count if key in before else 0] for key, acc in top]
        + [[name, 0, before[(None, name)].count] for name in unused[:MAX_ROWS]],
        "note": "Most used first, then features that went unused.",
    }


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("alerts", "Alerts", alerts_section),
        Section("uptime", "Uptime", uptime_section),
        Section("errors", "New error groups", errors_section),
        Section("debt", "Technical debt", debt_section),
        Section("dependencies", "Vulnerable dependencies", dependencies_section),
        Section("maintenance", "Maintenance done", maintenance_section),
        Section("features", "Top and unused features", features_section),
    )
}
if tuple(SECTIONS) != SECTION_NAMES:  # the model's list and this registry must say the same
    raise ImportError("reporting.sections: SECTIONS and reporting.models.SECTION_NAMES disagree")
