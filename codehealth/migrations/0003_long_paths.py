"""Paths of any length: file and debt paths become text, the repository path takes PATH_MAX, and
a file version is unique by a hash of its path (PostgreSQL cannot index ~2,700 bytes and more)."""

import hashlib

from django.db import migrations, models

import codehealth.roots

BATCH = 1000


def fill_path_hash(apps, schema_editor):
    FileMetrics = apps.get_model("codehealth", "FileMetrics")
    rows = FileMetrics.objects.order_by("pk").values_list("pk", "path")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        FileMetrics.objects.bulk_update(
            [
                FileMetrics(
                    pk=pk,
                    path_hash=hashlib.sha1(path.encode(errors="surrogateescape"), usedforsecurity=False).hexdigest(),
                )
                for pk, path in batch
            ],
            ["path_hash"],
        )
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("codehealth", "0002_repository_path_allowed_roots"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="filemetrics", name="codehealth_file_version"),
        migrations.AlterField(model_name="filemetrics", name="path", field=models.TextField()),
        migrations.AddField(
            model_name="filemetrics",
            name="path_hash",
            field=models.CharField(default="", editable=False, max_length=40),
            preserve_default=False,
        ),
        migrations.RunPython(fill_path_hash, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="filemetrics",
            constraint=models.UniqueConstraint(
                fields=("repository", "path_hash", "content_hash", "analysis_key"), name="codehealth_file_version_hash"
            ),
        ),
        migrations.AlterField(model_name="debtitem", name="path", field=models.TextField()),
        migrations.AlterField(
            model_name="coderepository",
            name="path",
            field=models.CharField(
                help_text="Directory on the portal's machine, inside CODEHEALTH_ALLOWED_ROOTS.",
                max_length=4096,
                validators=[codehealth.roots.validate_repository_path],
            ),
        ),
    ]
