from portal.schedules import Periodic

SCHEDULES = [
    # Due report subscriptions (next_send_at <= now), claimed one by one: see reporting/digest.py.
    Periodic(name="reporting.send_due_reports", func="reporting.digest.reports_send_due", minutes=1),
]
