"""Monitoring API: metric ingest and queries, health checks and their results, endpoints."""

from monitoring.api import checks, endpoints, metrics  # noqa: F401  (register viewsets on the router)
