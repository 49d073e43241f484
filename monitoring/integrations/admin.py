"""Admin of the integrations: scrape targets (the bearer token write-only, like channel secrets)."""

from django import forms
from django.contrib import admin

from monitoring.integrations.models import ScrapeTarget


class ScrapeTargetForm(forms.ModelForm):
    """The bearer token is never rendered back; leaving it blank keeps the stored one."""

    bearer_token = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text=ScrapeTarget._meta.get_field("bearer_token").help_text + " Leave blank to keep the current value.",
    )

    class Meta:
        model = ScrapeTarget
        fields = [
            "service", "url", "interval_seconds", "timeout_seconds", "bearer_token", "labels", "enabled",
            "series_limit",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if not data.get("bearer_token") and self.instance.pk:
            data["bearer_token"] = self.instance.bearer_token
        return data


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(admin.ModelAdmin):
    form = ScrapeTargetForm
    list_display = ["url", "service", "enabled", "interval_seconds", "last_ok", "last_scrape_at", "last_samples"]
    list_filter = ["enabled", "last_ok"]
    list_select_related = ["service"]
    readonly_fields = [
        "last_scrape_at", "last_ok", "last_error", "last_duration_ms", "last_samples", "last_refused_series",
        "next_scrape_at",
    ]  # fmt: skip
