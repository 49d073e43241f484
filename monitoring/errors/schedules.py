from portal.schedules import Periodic

SCHEDULES = [Periodic(name="errors.prune", func="monitoring.errors.tasks.prune", cron="23 * * * *")]
