"""System checks for monitoring settings that would otherwise only fail when a check runs."""

from django.core.checks import Error, Tags, register

from monitoring.healthchecks.custom import registry_problems


@register(Tags.compatibility)
def custom_health_checks(app_configs, **kwargs):
    return [
        Error(
            f"HEALTH_CUSTOM_CHECKS {problem}.",
            hint="Each entry is name=dotted.path.of.a.callable, importable by the portal.",
            id="monitoring.E001",
        )
        for problem in registry_problems()
    ]
