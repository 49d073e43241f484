from django.db import migrations, models


def claim_what_is_rolled(apps, schema_editor):
    # Writers now compare with claimed_until: what was rolled before this migration is claimed.
    RollupState = apps.get_model("monitoring", "RollupState")
    RollupState.objects.update(claimed_until=models.F("rolled_until"))


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="rollupstate",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rollupstate",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(claim_what_is_rolled, migrations.RunPython.noop),
    ]
