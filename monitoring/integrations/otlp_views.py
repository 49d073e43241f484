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
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from monitoring.errors.sentry.envelope import EnvelopeError, decompress
from monitoring.integrations.otlp import otlp_ingest, resource_service_names
from monitoring.metrics import counter
from portal.keys import service_key_find, service_key_touch
from portal.lib.bodies import BodyTooLarge, body_read
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


def export_handle(request):
    """One export, on Django's request (the body is read here, against the OTLP limits)."""
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


# --- The endpoint as a documented APIView ------------------------------------------------------
# DRF here only routes the POST and lists the operation in the OpenAPI schema: authentication,
# permissions, throttles and parsing stay with `export_handle`, which answers what OTLP exporters
# expect (google.rpc.Status bodies), not the API's {"detail": ...}.

OtlpStatus = inline_serializer(
    "OtlpStatus",
    {
        "code": serializers.IntegerField(help_text="The google.rpc.Code: 3 invalid, 7 denied, 8 too large, 16 no key."),
        "message": serializers.CharField(help_text="What was wrong, naming the header or the body."),
    },
)
OtlpExportResponse = inline_serializer(
    "OtlpExportMetricsResponse",
    {
        "partialSuccess": inline_serializer(
            "OtlpPartialSuccess",
            {
                # int64 values are strings in the protobuf JSON mapping.
                "rejectedDataPoints": serializers.CharField(help_text="Data points refused (an int64 string)."),
                "errorMessage": serializers.CharField(help_text="Why, for the first few."),
            },
            required=False,
        )
    },
)
OtlpJsonRequest = inline_serializer(
    "OtlpExportMetricsRequest",
    {
        "resourceMetrics": serializers.ListField(
            child=serializers.DictField(),
            required=False,
            help_text="ExportMetricsServiceRequest in the OTLP JSON mapping (camelCase or snake_case names).",
        )
    },
)


class AnyAccept(BaseContentNegotiation):
    """Exporters send varied Accept headers (or none); the answer's type follows the request's."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OtlpMetricsView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept
    own_body_limit = True  # OTLP_MAX_BODY_BYTES, read by export_handle

    def perform_authentication(self, request):
        """Left to export_handle: DRF would otherwise replace Django's request.user (a person's
        session, answered 403) with an anonymous user (answered 401)."""

    @extend_schema(
        operation_id="otlp_metrics_export",
        tags=["otlp"],
        auth=[{"ServiceKey": []}],
        request={JSON: OtlpJsonRequest, PROTOBUF: OpenApiTypes.BINARY},
        responses={
            (200, JSON): OtlpExportResponse,
            (200, PROTOBUF): OpenApiResponse(
                OpenApiTypes.BINARY, description="An ExportMetricsServiceResponse, in the request's encoding."
            ),
            400: OpenApiResponse(OtlpStatus, description="body: not an OTLP ExportMetricsServiceRequest."),
            401: OpenApiResponse(OtlpStatus, description="Authorization: no service key, or an unknown one."),
            403: OpenApiResponse(OtlpStatus, description="A person's login, or data naming another service."),
            413: OpenApiResponse(OtlpStatus, description="Past OTLP_MAX_BODY_BYTES or, decompressed, the limit."),
            415: OpenApiResponse(OtlpStatus, description="Another Content-Type or Content-Encoding."),
        },
    )
    def post(self, request):
        """OTLP/HTTP metrics (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`), protobuf or JSON, gzip allowed,
        with a service key (`Authorization: Bearer <key>`). Sums become increments (cumulative
        ones since the previous export), gauges readings, histograms bucket counters; see
        docs/integrations.md. Refused points are reported in `partialSuccess`."""
        return export_handle(request._request)


metrics_export = OtlpMetricsView.as_view()
