"""Integration models, one module per topic, re-exported here."""

from monitoring.integrations.models.otlp import OtlpSeriesState
from monitoring.integrations.models.receivers import Receiver, ReceiverKind
from monitoring.integrations.models.scrape import ScrapeTarget

__all__ = ["OtlpSeriesState", "Receiver", "ReceiverKind", "ScrapeTarget"]
