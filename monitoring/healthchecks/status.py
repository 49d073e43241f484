"""Health statuses and their order, said once (framework-free: the check kinds, heartbeats, the
model's choices, /metrics, readiness and the overview all read them from here)."""

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
STATUSES = (HEALTHY, DEGRADED, UNHEALTHY)
# Worse is higher; /metrics exports this number as `portal_health_check_status`.
RANK = {status: rank for rank, status in enumerate(STATUSES)}


def worst(*statuses: str) -> str:
    return max(statuses, key=RANK.__getitem__, default=HEALTHY)
