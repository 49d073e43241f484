"""A service's error-tracking settings and its public ingest key (the DSN's user part)."""

import secrets

from django.db import IntegrityError, models, transaction
from django.utils import timezone


def new_public_key() -> str:
    return secrets.token_hex(16)


class ErrorProject(models.Model):
    """One per service, created on demand. Its pk is the DSN's project id.

    The public key only allows ingest of error events and transactions for this service, as with
    Sentry: it sits in the DSN, which is compiled into clients (browsers included), so it is not a
    secret and regenerating it is the way to cut off a leaked one."""

    service = models.OneToOneField("portal.Service", on_delete=models.CASCADE, related_name="error_project")
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key)
    alert_on_new = models.BooleanField(default=False, help_text="Raise an alert when a new error group appears.")
    alert_on_regression = models.BooleanField(
        default=False, help_text="Raise an alert when a resolved error group is seen again."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["service__name"]

    def __str__(self) -> str:
        return f"errors of {self.service}"

    @classmethod
    def for_service(cls, service) -> "ErrorProject":
        """The service's project, created with defaults when missing (safe against a concurrent create)."""
        found = cls.objects.filter(service=service).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return cls.objects.create(service=service)
        except IntegrityError:
            return cls.objects.get(service=service)

    def regenerate_key(self) -> str:
        self.public_key = new_public_key()
        self.save(update_fields=["public_key"])
        return self.public_key
