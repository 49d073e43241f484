"""Maintenance executors, one module per task kind; importing this package registers them all."""

from maintenance.executors import cleanup, dependency_update, scaling_check  # noqa: F401
from maintenance.executors.base import REGISTRY, executor_for  # noqa: F401
