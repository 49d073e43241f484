"""Services (the instrumented applications) and their API keys."""

import hashlib
import hmac
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from portal.lib.idempotency import MAX_KEY_LENGTH

KEY_PREFIX_LEN = 8
# Keys carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
KEY_SECRET_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, blank=True)
    description = models.TextField(blank=True)
    owner_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        # An empty slug cannot be put in a URL: every page linking to the service would fail.
        constraints = [models.CheckConstraint(condition=~Q(slug=""), name="service_slug_not_empty")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            base = slug_base(self.name)
            others = Service.objects.exclude(pk=self.pk).filter(slug__startswith=base)
            self.slug = slug_free(base, taken=set(others.values_list("slug", flat=True)))
        super().save(*args, **kwargs)


def slug_base(name: str) -> str:
    # A name in non-Latin letters slugifies to nothing; `<slug:...>` URLs take ASCII only.
    return slugify(name)[:90] or "service"


def slug_free(base: str, *, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is not taken."""
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


class ServiceKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ServiceKey(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, blank=True, help_text="What uses this key, e.g. 'prod web'.")
    prefix = models.CharField(max_length=KEY_PREFIX_LEN, unique=True, editable=False)
    hashed = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ServiceKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.service} key {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, raw: str) -> bool:
        return hmac.compare_digest(self.hashed, hash_key(raw))


class Deployment(models.Model):
    """A release of a service: marks charts and explains changes in behaviour."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="deployments")
    version = models.CharField(max_length=100)
    environment = models.CharField(max_length=50, default="production")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The Idempotency-Key the deployment was recorded with: a CI job retrying the request after
    # a lost answer records the release once. Kept with the row (deployments are few).
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["service", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="deployment_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.version}"
