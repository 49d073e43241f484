from portal.schedules import Periodic

SCHEDULES = [
    # Repositories with `scan_every_hours` set are scanned when their next_scan_at is due.
    Periodic(name="codehealth.scan_due", func="codehealth.tasks.scan_due", minutes=5),
]
