"""Entry points django-q2 runs (see schedules.py)."""

from dataclasses import asdict

from monitoring.integrations import scrape


def scrape_sweep() -> dict:
    return asdict(scrape.scrape_sweep())
