"""The services the portal records about itself: this host, and the portal process."""

import socket

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from portal.models import Service


def _service(slug: str, name: str, description: str) -> Service:
    found = Service.objects.filter(slug=slug).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Service.objects.create(slug=slug, name=name, description=description)
    except IntegrityError:  # created concurrently, or a service already uses the name
        found = Service.objects.filter(slug=slug).first()
        if found is not None:
            return found
        return Service.objects.create(slug=slug, name=f"{name} ({slug})", description=description)


def local_host_service() -> Service:
    """The Service for the machine the portal runs on (system collectors write here). Idempotent.

    Slug from METRICS_HOST_SERVICE, else from the hostname."""
    hostname = socket.gethostname() or "localhost"
    slug = slugify(settings.METRICS_HOST_SERVICE or hostname)[:100] or "localhost"
    return _service(slug, f"host {hostname}", "This host's system metrics (collected by the portal).")


def portal_service() -> Service:
    """The Service that the portal's own counters are recorded under (METRICS_SERVICE)."""
    slug = slugify(settings.METRICS_SERVICE)[:100] or "portal"
    return _service(slug, "Operations portal", "The portal's own metrics.")
