"""Admin: configuration CRUD, and alert actions that call the same transition functions."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.alerting.budgets import budget_delete, budget_save
from monitoring.alerting.lifecycle import TransitionNotAllowed, alert_acknowledge, alert_reopen, alert_resolve
from monitoring.alerting.models import (
    MAX_STEPS,
    Alert,
    AlertEvent,
    AlertRule,
    Channel,
    Delivery,
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
    PerformanceBudget,
    RuleState,
    Silence,
)
from monitoring.alerting.notify import channel_test
from monitoring.alerting.rules import rule_delete, rule_disable
from monitoring.alerting.silences import silence_apply, silence_changed, silence_delete, silence_expire
from monitoring.alerting.suppression import holds_recheck
from monitoring.alerting.transports import transport_class
from portal.admin_lists import BigTableAdmin


class AlertRuleAdminForm(forms.ModelForm):
    """The horizon is read by predict_linear only: left empty, it is 0."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "horizon" in self.fields:
            self.fields["horizon"].required = False

    def clean_horizon(self):
        return self.cleaned_data.get("horizon") or timedelta(0)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleAdminForm
    list_display = ["name", "source", "condition_text", "for_duration", "severity", "service", "enabled", "builtin"]
    list_filter = ["enabled", "severity", "source", "aggregation", "service"]
    search_fields = ["name", "metric", "description"]
    filter_horizontal = ["channels"]
    readonly_fields = ["builtin", "created_at", "updated_at"]
    actions = ["enable", "disable"]

    @admin.action(description="Enable selected rules")
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} rule(s).")

    @admin.action(description="Disable selected rules (resolves their open alerts)")
    def disable(self, request, queryset):
        rules = list(queryset.filter(enabled=True))
        resolved = sum(rule_disable(rule=rule, by=request.user, via="admin") for rule in rules)
        self.message_user(request, f"Disabled {len(rules)} rule(s); resolved {resolved} open alert(s).")

    def save_model(self, request, obj, form, change):
        # The admin's change view runs in one transaction, so the save and the disable are one.
        super().save_model(request, obj, form, change)
        if change and not obj.enabled and "enabled" in form.changed_data:
            rule_disable(rule=obj, by=request.user, via="admin")

    def delete_model(self, request, obj):
        rule_delete(rule=obj, by=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            rule_delete(rule=rule, by=request.user, via="admin")


@admin.register(RuleState)
class RuleStateAdmin(admin.ModelAdmin):
    list_display = ["rule", "labels", "active_since", "value", "changed_at"]
    list_filter = ["rule"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "value", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def _transition_action(func, verb: str, description: str):
    def run(modeladmin, request, queryset):
        done, refused = 0, []
        for alert in queryset:
            try:
                func(alert=alert, by=request.user, via="admin")
                done += 1
            except TransitionNotAllowed as exc:
                refused.append(str(exc))
        modeladmin.message_user(request, f"{verb} {done} alert(s).", messages.SUCCESS)
        for message in refused[:10]:
            modeladmin.message_user(request, message, messages.WARNING)

    run.__name__ = func.__name__
    return admin.action(description=description)(run)


@admin.register(Alert)
class AlertAdmin(BigTableAdmin):
    list_display = ["id", "summary", "status", "severity", "service", "rule", "created_at", "acknowledged_by"]
    list_filter = ["status", "severity", "service", "rule", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["summary", "fingerprint"]
    inlines = [AlertEventInline]
    list_select_related = ["service", "rule", "acknowledged_by"]
    actions = [
        _transition_action(alert_acknowledge, "Acknowledged", "Acknowledge selected alerts"),
        _transition_action(alert_resolve, "Resolved", "Resolve selected alerts"),
        _transition_action(alert_reopen, "Reopened", "Reopen selected alerts"),
    ]

    # Status and who/when only change through the transition actions above.
    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(AlertEvent)
class AlertEventAdmin(BigTableAdmin):
    list_display = ["created_at", "alert", "kind", "actor", "message"]
    # Every rule and service is offered: "only those with events" is a DISTINCT over every event.
    list_filter = ["kind", "alert__rule", "alert__service", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["message"]
    list_select_related = ["alert", "actor"]
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ChannelForm(forms.ModelForm):
    """The secret and the URL are write-only: never rendered back (a webhook URL often carries a
    token); leaving one blank keeps the stored value."""

    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=Channel._meta.get_field("secret").help_text + " Leave blank to keep the current value.",
    )

    url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text=Channel._meta.get_field("url").help_text + " Write-only.",
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "addresses", "users", "groups", "url", "secret"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""
        if self.instance.url:
            field = self.fields["url"]
            field.help_text += f" Current: {self.instance.url_host or '?'}/… — leave blank to keep it."

    def clean(self):
        data = super().clean()
        if not data.get("secret") and self.instance.pk:
            data["secret"] = self.instance.secret
        if not data.get("url") and self.instance.pk:
            data["url"] = self.instance.url
        kind = data.get("kind")
        if kind:
            errors = transport_class(kind).config_errors(
                url=data.get("url") or "", secret=data.get("secret") or "", addresses=data.get("addresses") or []
            )
            if errors and data.get("enabled"):
                raise ValidationError(errors)
        return data


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "enabled", "is_broken", "last_error_at", "last_success_at"]
    list_filter = ["kind", "enabled"]
    filter_horizontal = ["users", "groups"]
    readonly_fields = ["last_error", "last_error_at", "last_success_at"]
    actions = ["send_test"]

    @admin.display(boolean=True, description="broken")
    def is_broken(self, obj):
        return obj.is_broken

    @admin.action(description="Send a test notification")
    def send_test(self, request, queryset):
        for channel in queryset:
            channel_test(channel=channel)
        self.message_user(request, f"Queued {queryset.count()} test notification(s); see Deliveries.")


class EscalationStepInline(admin.StackedInline):
    model = EscalationStep
    extra = 1
    max_num = MAX_STEPS
    filter_horizontal = ["channels", "users"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "repeat", "repeat_after_minutes"]
    inlines = [EscalationStepInline]


@admin.register(Delivery)
class DeliveryAdmin(BigTableAdmin):
    list_display = ["created_at", "alert", "event", "target_name", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "event", "channel", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["alert", "channel", "user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ["id", "rule", "matchers", "starts_at", "ends_at", "author", "reason"]
    list_filter = ["rule"]
    actions = ["expire"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)
        # The admin wraps the request in a transaction; matching every open alert inside it would
        # hold SQLite's write lock meanwhile, so it runs once the silence is committed.
        if change:
            transaction.on_commit(lambda: silence_changed(silence=obj, by=request.user, via="admin"))
        else:
            transaction.on_commit(lambda: silence_apply(silence=obj, now=timezone.now()))

    def delete_model(self, request, obj):
        silence_delete(silence=obj, by=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for silence in queryset:
            silence_delete(silence=silence, by=request.user, via="admin")

    @admin.action(description="End selected silences now")
    def expire(self, request, queryset):
        ended = sum(silence_expire(silence=s, by=request.user, via="admin") for s in queryset)
        self.message_user(request, f"Ended {ended} silence(s).")


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "starts_at", "ends_at", "cron", "duration"]
    list_filter = ["service"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if change:  # a shortened or moved window must not keep holding alerts until its old end
            holds_recheck(now=timezone.now())

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        holds_recheck(now=timezone.now())

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        holds_recheck(now=timezone.now())


@admin.register(PerformanceBudget)
class PerformanceBudgetAdmin(admin.ModelAdmin):
    """Each budget keeps an alert rule (shown read-only): saved, disabled and deleted with it."""

    list_display = ["service", "route", "kind", "limit", "window", "severity", "enabled", "rule"]
    list_filter = ["enabled", "kind", "service"]
    list_select_related = ["service", "rule"]
    search_fields = ["route", "service__name"]
    readonly_fields = ["rule", "condition", "created_at", "updated_at"]

    @admin.display(description="Evaluated as")
    def condition(self, obj):
        return obj.rule.condition_text if obj.rule_id else "—"

    def save_model(self, request, obj, form, change):
        budget_save(budget=obj, by=request.user)

    def delete_model(self, request, obj):
        budget_delete(budget=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for budget in queryset:
            budget_delete(budget=budget, by=request.user)
