"""Issuing, finding, touching and revoking service API keys."""

import secrets
from dataclasses import dataclass

from django.utils import timezone

from portal.models import KEY_PREFIX_LEN, KEY_SECRET_BYTES, LAST_USED_RESOLUTION, Service, ServiceKey, hash_key


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: `raw` exists only here and is never stored."""

    key: ServiceKey
    raw: str


def service_key_issue(*, service: Service, name: str = "") -> IssuedKey:
    """Create a key; the caller shows `raw` once, we keep only its hash."""
    while True:
        prefix = secrets.token_hex(KEY_PREFIX_LEN // 2)
        if not ServiceKey.objects.filter(prefix=prefix).exists():
            break
    raw = f"pk_{prefix}_{secrets.token_urlsafe(KEY_SECRET_BYTES)}"
    key = ServiceKey.objects.create(service=service, name=name, prefix=prefix, hashed=hash_key(raw))
    return IssuedKey(key=key, raw=raw)


def service_key_revoke(*, key: ServiceKey, now=None) -> bool:
    """Revoke once; returns False when it was already revoked."""
    now = now or timezone.now()
    return bool(ServiceKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now))


def service_key_find(raw: str) -> ServiceKey | None:
    """The active key for a raw string, or None. Constant-time comparison of the hash."""
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != "pk" or len(parts[1]) != KEY_PREFIX_LEN:
        return None
    key = ServiceKey.objects.active().select_related("service").filter(prefix=parts[1]).first()
    if key is None or not key.matches(raw):
        return None
    return key


def service_key_touch(*, key: ServiceKey, now=None) -> None:
    """Record use, at most once a minute per key so busy keys do not write on every request."""
    now = now or timezone.now()
    if key.last_used_at and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ServiceKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
