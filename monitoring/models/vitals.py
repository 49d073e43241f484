"""Public keys for the web-vitals beacon: which service a browser's page timings belong to, and
which sites (origins) may send them.

The key is public by design (it sits in every page that reports), so it only allows writing one
histogram of its own service, and only from the origins listed here: a page elsewhere cannot
fill another team's charts. It is not a ServiceKey (those are secrets, stored hashed).
"""

import contextlib
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from portal.models import Service

MAX_ORIGINS = 20
MAX_ORIGIN_LENGTH = 200


def new_public_key() -> str:
    return secrets.token_hex(16)


def origin_normalize(raw) -> str:
    """`https://Shop.example.com:443/` -> `https://shop.example.com`; ValueError when it is not a
    bare http(s) origin (no path, query, user or wildcard: browsers send exactly this form)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_ORIGIN_LENGTH:
        raise ValueError(f"an origin is a string of at most {MAX_ORIGIN_LENGTH} characters")
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not an origin: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or "*" in raw:
        raise ValueError(f"{raw!r} is not an origin like https://shop.example.com")
    if parts.username or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{raw!r}: an origin has no path, query or user, only scheme://host[:port]")
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def validate_origins(value):
    if not isinstance(value, list):
        raise ValidationError('A list of origins, e.g. ["https://shop.example.com"].')
    if len(value) > MAX_ORIGINS:
        raise ValidationError(f"At most {MAX_ORIGINS} origins.")
    for index, item in enumerate(value):
        try:
            origin_normalize(item)
        except ValueError as exc:
            raise ValidationError(f"allowed_origins[{index}]: {exc}") from None


class BrowserKey(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="browser_keys")
    name = models.CharField(max_length=100, blank=True, help_text="Where it is used, e.g. 'shop front end'.")
    public_key = models.CharField(max_length=32, unique=True, default=new_public_key, editable=False)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_origins],
        help_text=f'Sites whose pages may report, e.g. ["https://shop.example.com"] (at most {MAX_ORIGINS}).',
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["service__name", "name"]

    def __str__(self) -> str:
        return f"{self.service} · {self.name or self.public_key[:8]}"

    def save(self, *args, **kwargs):
        # Stored normalized: the beacon compares the browser's Origin header with plain equality.
        with contextlib.suppress(ValueError):  # left as typed; full_clean (admin, API) says what is wrong
            self.allowed_origins = sorted({origin_normalize(o) for o in self.allowed_origins or []})
        super().save(*args, **kwargs)

    def origin_allowed(self, origin: str) -> bool:
        return origin in (self.allowed_origins or ())
