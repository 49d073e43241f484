"""Models of the maintenance app, one module per topic, re-exported here."""

from maintenance.models.environments import Environment, package_manager_detect
from maintenance.models.runs import FINAL_STATUSES, MaintenanceRun, RunStatus
from maintenance.models.tasks import MaintenanceTask

__all__ = ["FINAL_STATUSES", "Environment", "MaintenanceRun", "MaintenanceTask", "RunStatus", "package_manager_detect"]
