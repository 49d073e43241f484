"""What the batch ingest endpoints (`/api/v1/metrics/`, `/api/v1/events/`) share around their
write path: the body read against a byte limit (413 before parsing), the `{"service": ..., "<items>":
[...]}` envelope, the Idempotency-Key header, the target service of a key, and the 400 body
listing every bad item. Each endpoint validates its items with plain code (no serializer per item).
"""

import json
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.parsers import BaseParser

from portal.api.permissions import is_service, service_for_key
from portal.lib.bodies import body_read
from portal.lib.idempotency import MAX_KEY_LENGTH
from portal.lib.rows import ItemError
from portal.lib.surrogates import json_repaired
from portal.models import Service

# The header every batch ingest documents (metrics, usage events): one definition for the schema.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retrying a batch with the same key (per service, kept 24 h) writes nothing again.",
)


@dataclass(frozen=True)
class BodyLimit:
    """A documented body limit: the setting's name and its value, read per request."""

    items: str  # the envelope's list field, named in messages ("samples", "events")
    setting: str

    @property
    def value(self) -> int:
        return getattr(settings, self.setting)  # read per request: tests change it


def json_loads(raw: bytes):
    # Python's json accepts the NaN/Infinity literals its json.dumps writes, so item validation
    # can refuse them naming the item and field instead of failing the whole body.
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
    # A lone surrogate would fail the database write (a 500): it becomes U+FFFD here.
    return json_repaired(value, raw)


def too_large_body(limit: int, body_limit: BodyLimit) -> dict:
    return {
        "detail": f"{body_limit.items}: the body exceeds {limit} bytes ({body_limit.setting}); send smaller batches.",
        "limit_bytes": limit,
    }


def json_parser(body_limit: BodyLimit) -> type[BaseParser]:
    """A parser that declares JSON for the schema and content negotiation. The body itself is
    read by `ingest_body`: DRF hands JSONParser subclasses `request.body`, whose 2.5 MB
    DATA_UPLOAD_MAX_MEMORY_SIZE answers a valid batch with 400, and it skips bodies sent without
    a Content-Length."""

    class IngestJSONParser(BaseParser):
        media_type = "application/json"

        def parse(self, stream, media_type=None, parser_context=None):
            limit = body_limit.value
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                raise exceptions.APIException(too_large_body(limit, body_limit)["detail"], code="too_large")
            return json_loads(raw)

    return IngestJSONParser


def ingest_body(request, body_limit: BodyLimit):
    """The parsed JSON body, read against the limit; BodyTooLarge above it (answer 413)."""
    if request.content_type.partition(";")[0].strip().lower() != "application/json":
        raise exceptions.UnsupportedMediaType(request.content_type)
    return json_loads(body_read(request._request, limit=body_limit.value))


def envelope_service(body, items: str) -> str | None:
    """The service slug of `{"service": ..., items: [...]}` (None: the key's own); 400 naming the field."""
    if not isinstance(body, dict):
        raise exceptions.ValidationError({items: [f"Send an object with a '{items}' list."]})
    if "service" in body and not (isinstance(body["service"], str) and body["service"]):
        # "" or null read as "not given" would write to the key's service without a word.
        raise exceptions.ValidationError({"service": ["A service slug; leave it out for the key's own service."]})
    return body.get("service")


def envelope_items(body: dict, items: str):
    if items not in body:
        raise exceptions.ValidationError({items: ["This field is required."]})
    return body[items]


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({"Idempotency-Key": [f"At most {MAX_KEY_LENGTH} characters."]})
    return key


def target_service(request, slug: str | None) -> Service:
    """The service a batch is written to: a key's own (naming another is 403); people must name one."""
    if is_service(request):
        requested = Service.objects.filter(slug=slug).first() if slug else None
        if slug and requested is None:
            raise exceptions.PermissionDenied("service: this key may only write data of its own service.")
        return service_for_key(request, requested)
    if not slug:
        raise exceptions.ValidationError({"service": ["This field is required."]})
    service = Service.objects.filter(slug=slug).first()
    if service is None:
        raise exceptions.ValidationError({"service": [f"No service with slug {slug!r}."]})
    return service


def errors_body(errors: list[ItemError], items, name: str) -> dict:
    """The 400 body of an invalid batch: every bad item by index and field."""
    if errors[0].field == name:  # the batch as a whole: not a list, or too long
        return {"detail": f"{name}: {errors[0].message}", "errors": [{"field": name, "message": errors[0].message}]}
    bad = len({e.index for e in errors})
    return {
        "detail": f"{bad} of {len(items)} {name} are invalid; nothing was written.",
        "errors": [e.as_dict() for e in errors],
    }
