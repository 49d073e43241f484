from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """What teams already run, taken in: Prometheus exporters scraped, Alertmanager and Grafana
    alerts received, OpenTelemetry metrics accepted. Its own app (label `integrations`) so its
    tables and migrations evolve apart from the metric storage."""

    name = "monitoring.integrations"
    label = "integrations"
    verbose_name = "Integrations"
