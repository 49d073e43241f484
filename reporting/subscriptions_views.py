"""Pages for report subscriptions (each person manages their own), stored reports, preview,
send now, and the one-click unsubscribe link."""

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from monitoring.alerting.models import Channel
from portal.access import viewer_required
from portal.roles import ADMIN, has_role
from reporting.digest import (
    UnsubscribeError,
    current_period,
    report_build,
    report_send_now,
    subscription_reschedule,
    subscription_unsubscribe,
    unsubscribe_read,
)
from reporting.models import MAX_SUBSCRIPTIONS_PER_USER, SECTION_NAMES, Report, ReportSubscription
from reporting.sections import SECTIONS

REPORTS_PAGE = 100  # newest reports shown on the list page


class SubscriptionForm(forms.ModelForm):
    sections = forms.MultipleChoiceField(
        choices=[(name, SECTIONS[name].title) for name in SECTION_NAMES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ReportSubscription
        fields = [
            "name",
            "frequency",
            "sections",
            "send_time",
            "weekday",
            "monthday",
            "time_zone",
            "email_enabled",
            "channel",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(kind__in=("slack", "webhook"))

    def clean_sections(self):
        # Keep the registry's order, so every digest reads the same way.
        chosen = set(self.cleaned_data["sections"])
        return [name for name in SECTION_NAMES if name in chosen]


def _own(request, pk: int) -> ReportSubscription:
    """A subscription of this person (admins may open anyone's); others get a 404, not a 403,
    so ids of other people's subscriptions tell nothing."""
    queryset = ReportSubscription.objects.select_related("user", "channel")
    if not has_role(request.user, ADMIN):
        queryset = queryset.filter(user=request.user)
    return get_object_or_404(queryset, pk=pk)


@viewer_required
def subscription_list(request):
    subs = (
        ReportSubscription.objects.filter(user=request.user)
        .select_related("channel")
        .annotate(report_count=Count("reports"))
    )
    return render(request, "reporting/report_subscriptions.html", {"subscriptions": subs})


@viewer_required
@require_http_methods(["GET", "POST"])
def subscription_edit(request, pk: int | None = None):
    sub = _own(request, pk) if pk is not None else ReportSubscription(user=request.user)
    # An empty POST is still a submission (falsy QueryDict): it must fail validation, not re-render.
    form = SubscriptionForm(request.POST if request.method == "POST" else None, instance=sub)
    if request.method == "POST" and form.is_valid():
        if pk is None and ReportSubscription.objects.filter(user=request.user).count() >= MAX_SUBSCRIPTIONS_PER_USER:
            form.add_error(None, f"At most {MAX_SUBSCRIPTIONS_PER_USER} report subscriptions per person.")
        else:
            sub = form.save()
            subscription_reschedule(sub=sub)
            messages.success(request, f"Saved. Next report: {_next(sub)}.")
            return redirect("reporting:subscriptions")
    status = 400 if form.errors else 200
    return render(request, "reporting/report_subscription_form.html", {"form": form, "sub": sub}, status=status)


def _next(sub: ReportSubscription) -> str:
    if not sub.next_send_at:
        return "none (disabled)"
    return timezone.localtime(sub.next_send_at, sub.zone).strftime(f"%Y-%m-%d %H:%M {sub.time_zone}")


@viewer_required
@require_POST
def subscription_delete(request, pk: int):
    sub = _own(request, pk)
    sub.delete()
    messages.success(request, f"Deleted the subscription {sub.name}.")
    return redirect("reporting:subscriptions")


@viewer_required
def subscription_preview(request, pk: int):
    """The report as it would be sent now: rendered, not stored and not sent."""
    sub = _own(request, pk)
    start, end = current_period(sub, now=timezone.now())
    built = report_build(sub=sub, period_start=start, period_end=end)
    return render(request, "reporting/report_preview.html", {"sub": sub, "built": built})


@viewer_required
@require_POST
def subscription_send_now(request, pk: int):
    sub = _own(request, pk)
    report = report_send_now(sub=sub)
    messages.info(request, f"Report stored; delivery: {report.get_status_display()}.")
    return redirect("reporting:report-detail", pk=report.pk)


@viewer_required
def report_list(request):
    reports = Report.objects.select_related("user", "subscription").defer("html", "text", "figures")
    if not has_role(request.user, ADMIN):
        reports = reports.filter(user=request.user)
    return render(request, "reporting/report_list.html", {"reports": reports[:REPORTS_PAGE]})


@viewer_required
def report_detail(request, pk: int):
    report = Report.objects.select_related("user", "subscription").filter(pk=pk).first()
    if report is None or (report.user_id != request.user.pk and not has_role(request.user, ADMIN)):
        raise Http404("No such report.")
    return render(request, "reporting/report_detail.html", {"report": report})


@csrf_exempt  # RFC 8058: the mail provider POSTs without a session; the signed token is the credential
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a confirmation button (mail scanners prefetch links); POST, from that button
    or a mail client's one-click "List-Unsubscribe=One-Click", turns the subscription off."""
    try:
        sub = unsubscribe_read(token)
    except UnsubscribeError as exc:
        return render(request, "reporting/report_unsubscribe.html", {"error": str(exc)}, status=400)
    if sub is None:
        return render(request, "reporting/report_unsubscribe.html", {"error": "", "gone": True})
    done = False
    if request.method == "POST":
        subscription_unsubscribe(sub=sub)
        done = True
    return render(request, "reporting/report_unsubscribe.html", {"sub": sub, "done": done, "error": ""})
