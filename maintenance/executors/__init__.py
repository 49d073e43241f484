"""Maintenance executors, one module per task kind (listed in base.EXECUTOR_MODULES); they are
imported and registered the first time the registry is read."""

from maintenance.executors.base import REGISTRY, executor_for  # noqa: F401
