"""Error models, one module per topic, re-exported here."""

from monitoring.errors.models.events import ErrorEvent
from monitoring.errors.models.groups import (
    ActivityKind,
    ErrorGroup,
    ErrorGroupActivity,
    ErrorGroupHour,
    ErrorGroupUser,
    GroupStatus,
    Level,
)
from monitoring.errors.models.inbox import ErrorInbox
from monitoring.errors.models.projects import ErrorProject

__all__ = [
    "ActivityKind",
    "ErrorEvent",
    "ErrorGroup",
    "ErrorGroupActivity",
    "ErrorGroupHour",
    "ErrorGroupUser",
    "ErrorInbox",
    "ErrorProject",
    "GroupStatus",
    "Level",
]
