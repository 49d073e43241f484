"""Health-check pages for admins: create and edit a check with kind-specific fields."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from monitoring.check_forms import HealthCheckPageForm
from monitoring.models import HealthCheck
from portal.access import role_required
from portal.roles import ADMIN

admin_required = role_required(ADMIN)


def _form_page(request, form, check=None):
    status = 400 if form.is_bound else 200
    return render(request, "monitoring/check_form.html", {"form": form, "check": check}, status=status)


@require_http_methods(["GET", "POST"])
@admin_required
def check_create(request):
    form = HealthCheckPageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = form.save()
        messages.success(request, f"Health check {check.name!r} created; it runs at the next sweep.")
        return redirect("monitoring:health-detail", pk=check.pk)
    return _form_page(request, form)


@require_http_methods(["GET", "POST"])
@admin_required
def check_edit(request, pk: int):
    check = get_object_or_404(HealthCheck, pk=pk)
    form = HealthCheckPageForm(request.POST or None, instance=check)
    if request.method == "POST" and form.is_valid():
        check = form.save(commit=False)
        check.next_run_at = None  # due at the next sweep, like an edit in the admin or the API
        check.save()
        messages.success(request, f"Health check {check.name!r} saved; it runs at the next sweep.")
        return redirect("monitoring:health-detail", pk=check.pk)
    return _form_page(request, form, check)
