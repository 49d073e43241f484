"""System checks for configurations that work but hurt (`manage.py check [--deploy]`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def base_url_is_https(app_configs, **kwargs):
    if settings.PORTAL_BASE_URL.startswith("https://"):
        return []
    return [
        Warning(
            "PORTAL_BASE_URL is not https: links in notification emails (one-click acknowledge) "
            "would travel in clear text.",
            hint="Set PORTAL_BASE_URL=https://portal.example.com",
            id="portal.W001",
        )
    ]


@register(Tags.database, deploy=True)
def database_scales_out(app_configs, **kwargs):
    return scale_out_warnings(settings.DATABASES["default"]["ENGINE"], settings.Q_CLUSTER)


def scale_out_warnings(engine: str, q_cluster: dict) -> list:
    if engine.endswith("sqlite3") and q_cluster.get("redis"):
        return [
            Warning(
                "REDIS_URL is set but the database is SQLite: workers on other machines cannot share it.",
                hint="Set DATABASE_URL=postgres://… when running workers on several machines.",
                id="portal.W002",
            )
        ]
    return []


@register(Tags.staticfiles)
def chartjs_installed(app_configs, **kwargs):
    chart = settings.BASE_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
    if chart.exists():
        return []
    return [
        Warning(
            "Chart.js is not installed: pages will show no charts.",
            hint="Run `npm ci` (make does this for you).",
            id="portal.W003",
        )
    ]
