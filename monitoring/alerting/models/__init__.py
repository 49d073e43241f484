"""Alerting models, one module per topic, re-exported here."""

from monitoring.alerting.models.alerts import (
    OPEN_STATUSES,
    AckLinkUse,
    Alert,
    AlertEvent,
    AlertStatus,
    EventKind,
)
from monitoring.alerting.models.budgets import BudgetKind, PerformanceBudget
from monitoring.alerting.models.channels import Channel, ChannelKind, Delivery, DeliveryEvent, DeliveryStatus
from monitoring.alerting.models.escalation import MAX_STEPS, EscalationPolicy, EscalationStep
from monitoring.alerting.models.rules import Aggregation, AlertRule, Comparison, RuleSource, RuleState, Severity
from monitoring.alerting.models.suppression import MaintenanceWindow, Silence, alert_match_labels

__all__ = [
    "MAX_STEPS",
    "OPEN_STATUSES",
    "AckLinkUse",
    "Aggregation",
    "Alert",
    "AlertEvent",
    "AlertRule",
    "AlertStatus",
    "BudgetKind",
    "Channel",
    "ChannelKind",
    "Comparison",
    "Delivery",
    "DeliveryEvent",
    "DeliveryStatus",
    "EscalationPolicy",
    "EscalationStep",
    "EventKind",
    "MaintenanceWindow",
    "PerformanceBudget",
    "RuleSource",
    "RuleState",
    "Severity",
    "Silence",
    "alert_match_labels",
]
