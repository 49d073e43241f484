from portal.schedules import Periodic

SCHEDULES = [
    # Paths, next steps and retention of the standard windows, after the day has ended in UTC.
    Periodic(name="analytics.behaviour_daily", func="analytics.behaviour.tasks.behaviour_daily", cron="20 0 * * *"),
]
