"""Integrations API: imported by portal.api.urls' autodiscovery; each module registers its viewsets."""

from monitoring.integrations import receiver_api, scrape_api  # noqa: F401
