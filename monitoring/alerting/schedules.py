from portal.schedules import Periodic

SCHEDULES = [
    Periodic(name="alerting.evaluate", func="monitoring.alerting.tasks.evaluate_rules", minutes=1),
    Periodic(name="alerting.deliveries", func="monitoring.alerting.tasks.deliveries_sweep", minutes=1),
    Periodic(name="alerting.escalations", func="monitoring.alerting.tasks.escalations_sweep", minutes=1),
]
