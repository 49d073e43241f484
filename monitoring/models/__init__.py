"""Models of the monitoring app: metric storage and health checks."""

from monitoring.models.checks import CheckKind, HealthCheck, HealthCheckResult, HealthStatus, HeartbeatPing, PingKind
from monitoring.models.metrics import (
    HourRollup,
    IngestBatch,
    Metric,
    MetricKind,
    MetricSample,
    MetricTotal,
    MinuteRollup,
    RollupState,
)
from monitoring.models.vitals import BrowserKey

__all__ = [
    "BrowserKey",
    "CheckKind",
    "HealthCheck",
    "HealthCheckResult",
    "HealthStatus",
    "HeartbeatPing",
    "HourRollup",
    "IngestBatch",
    "Metric",
    "MetricKind",
    "MetricSample",
    "MetricTotal",
    "MinuteRollup",
    "PingKind",
    "RollupState",
]
