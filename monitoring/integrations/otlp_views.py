"""POST /v1/metrics: the OTLP/HTTP metrics endpoint OpenTelemetry exporters post to.

A service key authenticates it (`Authorization: Bearer pk_...`, set through
OTEL_EXPORTER_OTLP_HEADERS), and the samples belong to the key's service. Bodies are protobuf
or JSON (the OTLP JSON mapping), optionally gzip-compressed, read against OTLP_MAX_BODY_BYTES
and decompressed against OTLP_MAX_DECOMPRESSED_BYTES. Answers are what exporters expect:
200 with an ExportMetricsServiceResponse in the request's encoding (partial_success when some
points were refused); 400 undecodable, 401 no or unknown key, 403 not a service key or another
service's data, 413 too large, 415 another content type or encoding. Error bodies are the JSON
form of google.rpc.Status ({"code", "message"}); exporters log them.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from monitoring.errors.sentry.envelope import EnvelopeError, decompress
from monitoring.integrations.otlp import otlp_ingest, resource_service_names
from monitoring.metrics import counter
from portal.keys import service_key_find, service_key_touch
from portal.lib.bodies import BodyTooLarge, body_read
from portal.middleware import own_body_limit
from portal.models import Service

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# google.rpc.Code values, as OTLP error bodies carry them.
RPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3}

POINTS = counter(
    "portal_otlp_samples_total", "Samples written and data points refused by /v1/metrics", labelnames=("outcome",)
)


def _error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"code": RPC_CODES.get(status, 2), "message": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _service(request):
    """(service, None) for a valid service key, else (None, the refusal)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme != "Bearer" or not raw.strip():
        if request.user.is_authenticated:
            return None, _error(403, "Authorization: /v1/metrics takes a service key, not a login.")
        return None, _error(401, "Authorization: expected 'Bearer <service key>'.", WWW_Authenticate="Bearer")
    key = service_key_find(raw.strip())
    if key is None:
        return None, _error(401, "Authorization: unknown or revoked service key.", WWW_Authenticate="Bearer")
    service_key_touch(key=key)
    return key.service, None


def _decode(request, content_type: str) -> ExportMetricsServiceRequest:
    raw = body_read(request, limit=settings.OTLP_MAX_BODY_BYTES)
    body = decompress(raw, request.headers.get("Content-Encoding", ""), limit=settings.OTLP_MAX_DECOMPRESSED_BYTES)
    message = ExportMetricsServiceRequest()
    if content_type == PROTOBUF:
        message.ParseFromString(body)
    else:
        json_format.Parse(body.decode("utf-8"), message, ignore_unknown_fields=True)
    return message


@csrf_exempt
@own_body_limit
@require_POST
def metrics_export(request):
    service, refusal = _service(request)
    if refusal is not None:
        return refusal
    content_type = request.content_type.partition(";")[0].strip().lower()
    if content_type not in (PROTOBUF, JSON):
        return _error(415, f"Content-Type: send {PROTOBUF} or {JSON}, not {content_type or 'nothing'}.")
    try:
        message = _decode(request, content_type)
    except BodyTooLarge as exc:
        return _error(413, f"the body exceeds {exc.limit} bytes (OTLP_MAX_BODY_BYTES); export smaller batches.")
    except EnvelopeError as exc:  # gzip errors (400), decompressed size (413), other encodings (415)
        return _error(exc.status, f"Content-Encoding: {exc}")
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
        return _error(400, f"body: not an OTLP ExportMetricsServiceRequest ({exc})")
    # service.name is the exporter's own idea of its service; naming another portal service is
    # a key used for someone else's data, which a key may never write.
    names = resource_service_names(message) - {service.slug}
    if names and Service.objects.filter(slug__in=names).exists():
        return _error(403, "service.name: this key may only write data of its own service.")
    outcome = otlp_ingest(service=service, request=message, now=timezone.now())
    POINTS.inc(outcome.accepted, outcome="written")
    if outcome.rejected:
        POINTS.inc(outcome.rejected, outcome="refused")
    answer = ExportMetricsServiceResponse()
    if outcome.rejected:
        answer.partial_success.rejected_data_points = outcome.rejected
        answer.partial_success.error_message = outcome.error_message
    if content_type == PROTOBUF:
        return HttpResponse(answer.SerializeToString(), content_type=PROTOBUF)
    return HttpResponse(json_format.MessageToJson(answer, indent=None), content_type=JSON)
