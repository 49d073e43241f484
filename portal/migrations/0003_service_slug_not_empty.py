"""Services whose name slugified to nothing (non-Latin letters) got an empty slug, which broke
every page linking to them; give them one, and let the database refuse empty slugs from now on."""

from django.db import migrations, models
from django.db.models import Q
from django.utils.text import slugify


def fill_empty_slugs(apps, schema_editor):
    Service = apps.get_model("portal", "Service")
    taken = set(Service.objects.exclude(slug="").values_list("slug", flat=True))
    for service in Service.objects.filter(slug="").order_by("pk"):
        # The same rule as Service.save (kept here so later code changes cannot alter history).
        base = slugify(service.name)[:90] or "service"
        slug = base
        n = 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        Service.objects.filter(pk=service.pk).update(slug=slug)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_roles")]
    operations = [
        migrations.RunPython(fill_empty_slugs, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="service",
            constraint=models.CheckConstraint(condition=~Q(slug=""), name="service_slug_not_empty"),
        ),
    ]
