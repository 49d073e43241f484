"""Environments: an interpreter and project directory the portal maintains, and what it may touch."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.db import models

from maintenance.executors.base import Target

PATH_MAX = 500
ROOTS_MAX = 20
COMMAND_ARGS_MAX = 50
COMMAND_ARG_MAX = 1000


def _path_error(value) -> str | None:
    """Why `value` is not an acceptable absolute path, or None. `..` is refused outright rather
    than resolved: a path that says one place and means another is how confinement is lost."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string."
    if "\x00" in value:
        return "must not contain a NUL character."
    if len(value) > PATH_MAX:
        return f"must be at most {PATH_MAX} characters."
    if not os.path.isabs(value):
        return "must be an absolute path."
    if ".." in PurePosixPath(value).parts:
        return "must not contain '..'."
    return None


def package_manager_detect(project_dir: str) -> str:
    """poetry when the project says so (pyproject [tool.poetry] or a poetry.lock), else pip."""
    if os.path.isfile(os.path.join(project_dir, "poetry.lock")):
        return "poetry"
    import tomllib  # read for this only: ~1.5 ms of every process's start-up otherwise

    try:
        with open(os.path.join(project_dir, "pyproject.toml"), "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return "pip"
    return "poetry" if "poetry" in data.get("tool", {}) else "pip"


class Environment(models.Model):
    class PackageManager(models.TextChoices):
        AUTO = "auto", "Detect from the project files"
        PIP = "pip"
        POETRY = "poetry"

    name = models.CharField(max_length=100, unique=True)
    python = models.CharField(
        max_length=PATH_MAX, help_text="Absolute path of the interpreter, e.g. /srv/app/.venv/bin/python."
    )
    project_dir = models.CharField(max_length=PATH_MAX, help_text="Absolute path of the project directory.")
    package_manager = models.CharField(max_length=10, choices=PackageManager.choices, default=PackageManager.AUTO)
    service = models.ForeignKey(
        "portal.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="maintenance_environments",
        help_text="The service this environment runs as: its health and metrics gate updates.",
    )
    repository = models.ForeignKey(
        "codehealth.CodeRepository",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="maintenance_environments",
        help_text="The code-health repository with this environment's source (audit reachability).",
    )
    cleanup_roots = models.JSONField(
        default=list, blank=True, help_text=f"Absolute directories cleanup may touch (at most {ROOTS_MAX})."
    )
    verify_command = models.JSONField(
        default=list,
        blank=True,
        help_text=f'Argument list run in the project directory after a change, e.g. ["bin/pytest", "-x"] '
        f"(at most {COMMAND_ARGS_MAX} arguments).",
    )
    health_checks = models.ManyToManyField(
        "monitoring.HealthCheck",
        blank=True,
        related_name="maintenance_environments",
        help_text="Checks that must stay healthy after a change.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        """One set of rules for the admin form and the API (which calls this too)."""
        errors: dict[str, str] = {}
        problem = _path_error(self.python)
        if problem is None and not os.path.isfile(self.python):
            problem = "no file exists at this path."
        if problem:
            errors["python"] = f"Interpreter {problem}"
        problem = _path_error(self.project_dir)
        if problem is None and not os.path.isdir(self.project_dir):
            problem = "no directory exists at this path."
        if problem:
            errors["project_dir"] = f"Project directory {problem}"
        roots = self.cleanup_roots
        if not isinstance(roots, list):
            errors["cleanup_roots"] = "Must be a list of absolute directories."
        elif len(roots) > ROOTS_MAX:
            errors["cleanup_roots"] = f"At most {ROOTS_MAX} roots."
        else:
            for index, root in enumerate(roots):
                problem = _path_error(root)
                if problem is None and root.rstrip("/") == "":
                    problem = "must not be the filesystem root."
                if problem:
                    errors["cleanup_roots"] = f"Root {index}: {problem}"
                    break
        command = self.verify_command
        if not isinstance(command, list) or not all(isinstance(a, str) and a for a in command):
            errors["verify_command"] = "Must be a list of non-empty strings (an argument list, not a shell line)."
        elif len(command) > COMMAND_ARGS_MAX or any(len(a) > COMMAND_ARG_MAX or "\x00" in a for a in command):
            errors["verify_command"] = (
                f"At most {COMMAND_ARGS_MAX} arguments of at most {COMMAND_ARG_MAX} characters, without NUL."
            )
        if errors:
            raise ValidationError(errors)

    def package_manager_resolved(self) -> str:
        if self.package_manager != self.PackageManager.AUTO:
            return self.package_manager
        return package_manager_detect(self.project_dir)

    def target(self) -> Target:
        """The plain values executors work with. Reads health checks through `.all()` so a
        prefetch (`prefetch_related("health_checks")`) saves the query."""
        return Target(
            name=self.name,
            python=self.python,
            project_dir=self.project_dir,
            package_manager=self.package_manager_resolved(),
            cleanup_roots=tuple(self.cleanup_roots or ()),
            verify_command=tuple(self.verify_command or ()),
            service_id=self.service_id,
            repository_id=self.repository_id,
            health_check_ids=tuple(sorted(check.pk for check in self.health_checks.all())),
            env_id=self.pk,
        )
