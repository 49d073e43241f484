from portal.schedules import Periodic

SCHEDULES = [
    Periodic(name="monitoring.rollup", func="monitoring.tasks.rollup_minutes", minutes=1),
    Periodic(name="monitoring.collect_system", func="monitoring.tasks.collect_system", minutes=1),
    Periodic(name="monitoring.health_sweep", func="monitoring.tasks.health_sweep", minutes=1),
    Periodic(name="monitoring.prune", func="monitoring.tasks.prune", cron="17 * * * *"),
]
