"""Code health settings as analyzer objects (settings come from the environment, see
portal/settings.py, block `# codehealth`)."""

import hashlib
import json
from dataclasses import asdict

from django.conf import settings

from codehealth.analyzer import DEFAULT_EXCLUDES, Thresholds

# Bump when the analyzer's results change, so stored file versions are analysed again.
ANALYZER_VERSION = "2"  # 2: file versions record their imports


def default_thresholds() -> Thresholds:
    return Thresholds(
        function_length=settings.CODEHEALTH_MAX_FUNCTION_LINES,
        class_length=settings.CODEHEALTH_MAX_CLASS_LINES,
        complexity=settings.CODEHEALTH_MAX_COMPLEXITY,
        cognitive=settings.CODEHEALTH_MAX_COGNITIVE,
        nesting=settings.CODEHEALTH_MAX_NESTING,
        parameters=settings.CODEHEALTH_MAX_PARAMETERS,
        maintainability=settings.CODEHEALTH_MIN_MAINTAINABILITY,
    )


def thresholds_for(repository) -> Thresholds:
    return Thresholds.from_mapping(repository.thresholds, base=default_thresholds())


def excludes_for(repository) -> list[str]:
    defaults = DEFAULT_EXCLUDES if repository.use_default_excludes else ()
    return [*defaults, *settings.CODEHEALTH_EXCLUDES, *(repository.excludes or [])]


def analysis_key(limits: Thresholds) -> str:
    """Identifies what a stored file version's findings depend on besides its content."""
    blob = json.dumps([ANALYZER_VERSION, asdict(limits)], sort_keys=True).encode()
    return hashlib.sha1(blob, usedforsecurity=False).hexdigest()[:16]
