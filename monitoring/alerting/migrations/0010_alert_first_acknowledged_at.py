"""Alert.first_acknowledged_at, filled from the event log, and the index the operations
figures read.

The backfill is one UPDATE per range of alert ids (the earliest `acknowledged` event of each),
so no statement grows with the table and nothing is loaded into Python.
"""

from django.db import migrations, models
from django.db.models import Exists, Max, Min, OuterRef, Subquery

BATCH = 5000  # alert ids per UPDATE


def first_acknowledgements_fill(apps, schema_editor):
    Alert = apps.get_model("alerting", "Alert")
    AlertEvent = apps.get_model("alerting", "AlertEvent")
    acks = AlertEvent.objects.filter(alert=OuterRef("pk"), kind="acknowledged")
    first = acks.order_by("created_at", "id").values("created_at")[:1]
    last_id = Alert.objects.aggregate(last=Max("pk"))["last"] or 0
    start = Alert.objects.aggregate(first=Min("pk"))["first"] or 0
    while start <= last_id:
        Alert.objects.filter(pk__gte=start, pk__lt=start + BATCH, first_acknowledged_at__isnull=True).filter(
            Exists(acks)
        ).update(first_acknowledged_at=Subquery(first))
        start += BATCH


class Migration(migrations.Migration):
    dependencies = [
        ("alerting", "0009_predict_linear_horizon"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="first_acknowledged_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(first_acknowledgements_fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                fields=["created_at", "service", "rule", "severity", "first_acknowledged_at", "resolved_at"],
                name="alert_figures",
            ),
        ),
    ]
