"""Integration models, one module per topic, re-exported here."""

from monitoring.integrations.models.scrape import ScrapeTarget

__all__ = ["ScrapeTarget"]
