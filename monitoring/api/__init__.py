"""Monitoring API: metric ingest and queries, health checks and their results."""

from monitoring.api import checks, metrics  # noqa: F401  (register viewsets on the router)
