"""Running totals for /metrics: RollupState.totals_until, and the first fold.

From here on the rollup job keeps MetricTotal equal to every minute rollup before totals_until
(monitoring.totals). Older versions only added hour rollups to it when pruning them, so this folds
in what they rolled up and kept: hour rollups of the complete hours before `rolled_until`, and
minute rollups from there to `rolled_until`. Stop the workers while migrating, as for any upgrade:
an older rollup run committing after this would leave its window unfolded.
"""

from django.db import DataError, migrations, models, transaction
from django.db.models import Sum

from portal.lib.finite import finite_sum

FIELDS = ("service_id", "name", "labels_hash", "labels")


def _add(out: dict, queryset) -> None:
    """out[(service_id, name, labels_hash)] = [labels, count, sum parts] += the rows'."""
    try:
        with transaction.atomic():  # its own savepoint: PostgreSQL raises on a float overflow
            rows = [
                (*r[:4], r[4] or 0, r[5] or 0.0)
                for r in queryset.values_list(*FIELDS).annotate(Sum("count"), Sum("sum"))
            ]
    except DataError:  # only with rows stored before values were bounded: summed here instead
        rows = queryset.values_list(*FIELDS, "count", "sum").iterator(5000)
    for service_id, name, digest, labels, count, part in rows:
        entry = out.setdefault((service_id, name, digest), [labels, 0, []])
        entry[1] += count
        entry[2].append(part)


def _fold(apps, *, sign: int, until) -> None:
    """MetricTotal += sign * (hour rollups of complete hours before `until` + minute rollups from
    there to `until`), gauges left out."""
    metric = apps.get_model("monitoring", "Metric")
    total_model = apps.get_model("monitoring", "MetricTotal")
    hour = until.replace(minute=0, second=0, microsecond=0)
    gauges = metric.objects.filter(kind="gauge").values("name")
    out: dict = {}
    _add(out, apps.get_model("monitoring", "HourRollup").objects.filter(start__lt=hour).exclude(name__in=gauges))
    minutes = apps.get_model("monitoring", "MinuteRollup").objects.filter(start__gte=hour, start__lt=until)
    _add(out, minutes.exclude(name__in=gauges))
    for total in total_model.objects.all():
        entry = out.pop((total.service_id, total.name, total.labels_hash), None)
        if entry is None:
            continue
        total.count += sign * entry[1]
        total.sum = finite_sum([total.sum, *(sign * part for part in entry[2])])
        total.until = until
        total.save(update_fields=["count", "sum", "until"])
    new = [
        total_model(
            service_id=key[0], name=key[1], labels_hash=key[2], labels=labels, count=sign * count,
            sum=finite_sum([sign * part for part in parts]), until=until,
        )
        for key, (labels, count, parts) in out.items()
    ]  # fmt: skip
    total_model.objects.bulk_create(new, batch_size=500)


def totals_fold_existing(apps, schema_editor):
    state = apps.get_model("monitoring", "RollupState").objects.filter(key="minute").first()
    if state is None or state.rolled_until is None or state.totals_until is not None:
        return  # nothing rolled up yet (the first run folds its window), or already folded
    _fold(apps, sign=1, until=state.rolled_until)
    state.totals_until = state.rolled_until
    state.save(update_fields=["totals_until"])


def totals_unfold(apps, schema_editor):
    """Back to totals of pruned hours only, which is what older versions add rollups to."""
    state = apps.get_model("monitoring", "RollupState").objects.filter(key="minute").first()
    if state is None or state.totals_until is None:
        return
    _fold(apps, sign=-1, until=state.totals_until)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_custom_checks_by_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="rollupstate",
            name="totals_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="metrictotal",
            name="until",
            field=models.DateTimeField(
                help_text="When the totals last changed, they covered every minute before this."
            ),
        ),
        migrations.RunPython(totals_fold_existing, totals_unfold),
    ]
