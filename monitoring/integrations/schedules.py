from portal.schedules import Periodic

SCHEDULES = [
    # Each minute: scrape the targets that are due (a target's interval decides which those are).
    Periodic(name="integrations.scrape", func="monitoring.integrations.tasks.scrape_sweep", minutes=1),
]
