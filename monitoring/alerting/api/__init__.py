"""Alerting API: imported by portal.api.urls' autodiscovery; each module registers its viewsets."""

from monitoring.alerting.api import alerts, budgets, config  # noqa: F401
