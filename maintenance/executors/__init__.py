"""Maintenance executors, one module per task kind; importing this package registers them all."""

from maintenance.executors.base import REGISTRY, executor_for  # noqa: F401
