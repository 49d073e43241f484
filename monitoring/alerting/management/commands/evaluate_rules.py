from django.core.management.base import BaseCommand

from monitoring.alerting.escalation import escalation_sweep
from monitoring.alerting.evaluation import rules_evaluate
from monitoring.alerting.lifecycle import suppression_sweep
from monitoring.alerting.notify import deliveries_sweep


class Command(BaseCommand):
    help = "Evaluate every enabled alert rule once (what the per-minute schedule does)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--send", action="store_true", help="also run the escalation sweep and send due notifications here"
        )

    def handle(self, *args, send=False, **options):
        report = rules_evaluate()
        self.stdout.write(str(report))
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        if send:
            self.stdout.write(f"escalation: {escalation_sweep()} alert(s) escalated")
            self.stdout.write(f"suppression: {suppression_sweep()} alert(s) notified after a hold ended")
            self.stdout.write(f"deliveries: {deliveries_sweep()}")
