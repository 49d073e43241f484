"""Pages: the alert list, an alert's timeline with its actions, one-click acknowledge links.

Every action is a POST (CSRF-protected) that calls the one transition function for it.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import DateTimeField, ExpressionWrapper, F
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from monitoring.alerting.acklinks import AckLinkError, ack_link_actor, ack_link_read
from monitoring.alerting.lifecycle import (
    TransitionNotAllowed,
    alert_acknowledge,
    alert_comment,
    alert_reopen,
    alert_resolve,
    alert_unacknowledge,
)
from monitoring.alerting.models import AckLinkUse, Alert, AlertStatus, Channel, RuleState, Severity, Silence
from monitoring.alerting.silences import SILENCE_CHOICES, silence_expire, silence_for_alert
from portal.access import viewer_required
from portal.models import Service
from portal.templatetags.humanize_ops import when

ACK_PERMISSION = "alerting.acknowledge_alert"
SILENCE_PERMISSION = "alerting.add_silence"
TRANSITIONS = {
    "acknowledge": alert_acknowledge,
    "unacknowledge": alert_unacknowledge,
    "resolve": alert_resolve,
    "reopen": alert_reopen,
}
DONE = {"acknowledge": "acknowledged", "unacknowledge": "handed back", "resolve": "resolved", "reopen": "reopened"}
PAGE_SIZE = 50


def _require_perm(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied("Your role does not allow this.")


@viewer_required
def alert_list(request):
    alerts = Alert.objects.select_related("rule", "service", "acknowledged_by")
    status = request.GET.get("status", "open")
    if status == "open":
        alerts = alerts.open()
    elif status in AlertStatus.values:
        alerts = alerts.filter(status=status)
    severity = request.GET.get("severity", "")
    if severity in Severity.values:
        alerts = alerts.filter(severity=severity)
    service = request.GET.get("service", "")
    if service:
        alerts = alerts.filter(service__slug=service)
    page = Paginator(alerts.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "severity": severity,
        "service": service,
        "statuses": ["open", *AlertStatus.values, "all"],
        "severities": Severity.values,
        "services": Service.objects.order_by("name"),
        "counts": {s: Alert.objects.filter(status=s).count() for s in (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)},
        "pending": _pending(),
        # A channel that cannot deliver is an incident of its own: show it where on-call looks.
        "broken_channels": [
            c for c in Channel.objects.filter(enabled=True, last_error_at__isnull=False) if c.is_broken
        ],
    }
    return render(request, "alerting/alert_list.html", context)


def _pending() -> list[RuleState]:
    """Label sets whose condition holds but whose `for` has not elapsed: what may fire soon."""
    # Filtered and ordered in SQL: states of alerts that fired long ago can be thousands.
    fires = ExpressionWrapper(F("active_since") + F("rule__for_duration"), output_field=DateTimeField())
    active = RuleState.objects.filter(active_since__isnull=False, rule__enabled=True).annotate(fires=fires)
    return list(active.filter(fires__gt=timezone.now()).select_related("rule").order_by("fires", "id")[:50])


@viewer_required
def alert_detail(request, pk: int):
    alert = get_object_or_404(Alert.objects.select_related("rule", "service", "acknowledged_by", "resolved_by"), pk=pk)
    context = {
        "alert": alert,
        "still_true": _still_true(alert),
        "events": alert.events.select_related("actor"),
        "deliveries": alert.deliveries.select_related("channel", "user")[:50],
        "can_act": request.user.has_perm(ACK_PERMISSION),
        "can_silence": request.user.has_perm(SILENCE_PERMISSION),
        "silence_choices": list(SILENCE_CHOICES),
    }
    return render(request, "alerting/alert_detail.html", context)


def _still_true(alert: Alert) -> RuleState | None:
    """The rule state of an open alert whose condition held at the last evaluation: resolving
    it by hand only lasts until the next one, which reopens it. Read from the stored state (one
    row by its unique key), never by re-running the rule's query on a page view."""
    if not alert.is_open or alert.rule is None or not alert.rule.enabled:
        return None
    state = RuleState.objects.filter(rule_id=alert.rule_id, fingerprint=alert.fingerprint).first()
    return state if state is not None and state.active_since is not None else None


@require_POST
@viewer_required
def alert_transition(request, pk: int, action: str):
    _require_perm(request, ACK_PERMISSION)
    alert = get_object_or_404(Alert, pk=pk)
    try:
        TRANSITIONS[action](alert=alert, by=request.user, via="page")
        messages.success(request, f"Alert #{alert.pk} {DONE[action]}.")
    except TransitionNotAllowed as exc:
        messages.error(request, str(exc))
    return redirect("alerting:detail", pk=alert.pk)


@require_POST
@viewer_required
def alert_comment_view(request, pk: int):
    _require_perm(request, ACK_PERMISSION)
    alert = get_object_or_404(Alert, pk=pk)
    try:
        alert_comment(alert=alert, by=request.user, via="page", text=request.POST.get("text", ""))
        messages.success(request, "Comment added.")
    except ValueError as exc:
        messages.error(request, str(exc).split(": ", 1)[-1])
    return redirect("alerting:detail", pk=alert.pk)


@require_POST
@viewer_required
def alert_silence_view(request, pk: int):
    _require_perm(request, SILENCE_PERMISSION)
    alert = get_object_or_404(Alert.objects.select_related("rule"), pk=pk)
    duration = SILENCE_CHOICES.get(request.POST.get("duration", ""))
    if duration is None:
        messages.error(request, f"duration: choose one of {', '.join(SILENCE_CHOICES)}.")
        return redirect("alerting:detail", pk=alert.pk)
    try:
        silence = silence_for_alert(
            alert=alert, duration=duration, author=request.user, reason=request.POST.get("reason", "").strip()
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, f"Silenced until {when(silence.ends_at)}.")
    return redirect("alerting:detail", pk=alert.pk)


@viewer_required
def silence_list(request):
    silences = Silence.objects.select_related("rule", "author").order_by("-ends_at")[:200]
    return render(
        request,
        "alerting/silence_list.html",
        {"silences": silences, "can_expire": request.user.has_perm(SILENCE_PERMISSION)},
    )


@require_POST
@viewer_required
def silence_expire_view(request, pk: int):
    _require_perm(request, SILENCE_PERMISSION)
    silence = get_object_or_404(Silence, pk=pk)
    if silence_expire(silence=silence, by=request.user, via="page"):
        messages.success(request, "Silence ended; held alerts notify on the next sweep if still firing.")
    else:
        messages.info(request, "That silence had already ended.")
    return redirect("alerting:silences")


@require_http_methods(["GET", "POST"])
def ack_link(request, pk: int, token: str):
    """The one-click link from a notification email. The signed token is the credential, so no
    login is needed; GET only shows what will happen (mail scanners prefetch links). Nothing
    about the alert is shown until the token and its recipient have been checked."""
    try:
        link = ack_link_read(token, alert_id=pk)
    except AckLinkError as exc:
        return _ack_refused(request, str(exc), status=400)
    alert = Alert.objects.select_related("acknowledged_by").filter(pk=pk).first()
    if alert is None:
        return _ack_refused(request, "This alert no longer exists.", status=404)
    try:
        by = ack_link_actor(link)
    except AckLinkError as exc:
        return _ack_refused(request, str(exc), status=403)
    if AckLinkUse.objects.filter(nonce=link.nonce).exists():
        return _ack_refused(request, "This acknowledge link has already been used.", status=400)
    context = {"alert": alert, "error": "", "done": False, "recipient": link.recipient}
    if request.method == "POST":
        # Attributed to the person the link was sent to, whoever is logged in in this browser:
        # the link, not the session, is the credential.
        try:
            AckLinkUse.objects.create(nonce=link.nonce, alert=alert, recipient=link.recipient)
        except IntegrityError:  # a double click racing the first one
            return _ack_refused(request, "This acknowledge link has already been used.", status=400)
        try:
            alert = alert_acknowledge(alert=alert, by=by, via=f"email link ({link.recipient})")
            context["done"] = True
        except TransitionNotAllowed as exc:
            AckLinkUse.objects.filter(nonce=link.nonce).delete()  # nothing happened: the link stays usable
            context["error"] = str(exc)
        context["alert"] = alert
    return render(request, "alerting/ack_link.html", context)


def _ack_refused(request, error: str, *, status: int):
    return render(request, "alerting/ack_link.html", {"alert": None, "error": error}, status=status)
