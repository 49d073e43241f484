from portal.schedules import Periodic

SCHEDULES = [
    Periodic(name="errors.prune", func="monitoring.errors.tasks.prune", cron="23 * * * *"),
    # The safety net under the drain queued per envelope (inbox.inbox_wake): a lost wake-up or a
    # crashed drain leaves events waiting at most a minute (plus inbox.CLAIM_TIMEOUT if claimed).
    Periodic(name="errors.inbox-drain", func="monitoring.errors.tasks.inbox_drain", minutes=1),
]
