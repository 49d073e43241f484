from portal.schedules import Periodic

SCHEDULES = [
    # New events into the hour rollups that long ranges read (incremental, by event id).
    Periodic(name="analytics.rollup", func="analytics.tasks.rollup_hours", minutes=1),
    # Raw events past ANALYTICS_EVENT_RETENTION_DAYS, in bounded batches; rollups are kept.
    Periodic(name="analytics.prune", func="analytics.tasks.prune", cron="41 * * * *"),
    # Paths, next steps and retention of the standard windows, after the day has ended in UTC.
    Periodic(name="analytics.behaviour_daily", func="analytics.behaviour.tasks.behaviour_daily", cron="20 0 * * *"),
]
