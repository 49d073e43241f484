"""Which directories the portal may scan for people who configure repositories on the web.

An admin registering `/` or `/etc` (or a directory that is a symlink to one) would have the
workers read and store whatever Python-looking files are there. Repository paths must resolve,
symlinks followed, inside one of CODEHEALTH_ALLOWED_ROOTS; the model validates that (admin and
API share it) and a scan checks it again, since a directory can become a symlink after it was
registered. The `codehealth` command is not limited: its user already reads the disk directly.
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError


def allowed_roots() -> list[Path]:
    return [Path(root).expanduser().resolve() for root in settings.CODEHEALTH_ALLOWED_ROOTS if root]


def repository_root(path: str) -> Path:
    """The real directory `path` leads to, if that is inside an allowed root; else ValueError."""
    if not os.path.isabs(path):
        raise ValueError("Give an absolute path on the portal's machine.")
    real = Path(path).resolve()
    roots = allowed_roots()
    if not any(real == root or real.is_relative_to(root) for root in roots):
        leads = f" (it leads to {real})" if str(real) != os.path.normpath(path) else ""
        allowed = ", ".join(str(r) for r in roots) or "none"
        raise ValueError(
            f"{path} is outside the directories scans may read{leads}; allowed: {allowed} (CODEHEALTH_ALLOWED_ROOTS)."
        )
    return real


def validate_repository_path(value: str) -> None:
    try:
        repository_root(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="outside_roots") from exc
