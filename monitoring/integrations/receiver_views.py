"""The webhook endpoints Alertmanager (`webhook_configs`) and Grafana (a webhook contact point)
post to. Machines only: a receiver's token or a service key, never a person's session."""

import json
from dataclasses import dataclass

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.integrations.models import Receiver, ReceiverKind
from monitoring.integrations.receivers import (
    MAX_BODY_BYTES,
    PayloadInvalid,
    alerts_receive,
    payload_parse,
    receiver_for_service,
    receiver_token_find,
)
from portal.api.authentication import MachinePrincipal, ServiceKeyAuthentication, ServicePrincipal
from portal.api.permissions import service_for_key
from portal.lib.bodies import BodyTooLarge, body_read
from portal.lib.surrogates import json_repaired
from portal.models import Service


@dataclass
class ReceiverPrincipal(MachinePrincipal):
    """Stands in for request.user when a receiver token authenticated the request."""

    receiver: Receiver

    def __str__(self) -> str:
        return f"receiver:{self.receiver.name}"


class ReceiverTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer rt_…` (Alertmanager's `http_config.authorization`, Grafana's
    contact point "Authorization header"). Other bearer values go on to the service-key check."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0] != b"Bearer" or not header[1].startswith(b"rt_"):
            return None
        receiver = receiver_token_find(header[1].decode(errors="replace"))
        if receiver is None:
            raise exceptions.AuthenticationFailed("Authorization: unknown receiver token.")
        return ReceiverPrincipal(receiver=receiver), receiver

    def authenticate_header(self, request):
        return "Bearer"


class ReceiverTokenScheme(OpenApiAuthenticationExtension):
    target_class = ReceiverTokenAuthentication
    name = "ReceiverToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An alert receiver's token (rt_…)."}


class MachinesOnly(permissions.BasePermission):
    message = "Alert receivers take a receiver token or a service key, not a person's login."

    def has_permission(self, request, view):
        return isinstance(request.user, ReceiverPrincipal | ServicePrincipal)


class _DeclaresJSON(BaseParser):
    """For the schema only: the body is read by the view against MAX_BODY_BYTES."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover - never called
        raise exceptions.ParseError("read by the view")


ResultSerializer = inline_serializer(
    "ReceiveResult",
    {
        "fired": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "resolved": serializers.IntegerField(),
        "ignored": serializers.IntegerField(),
    },
)


@method_decorator(csrf_exempt, name="dispatch")
class _ReceiverView(APIView):
    kind: str = ""
    # People's session and token are read too, so a person gets a clear 403 rather than a 401.
    authentication_classes = [
        ReceiverTokenAuthentication,
        ServiceKeyAuthentication,
        authentication.SessionAuthentication,
        authentication.TokenAuthentication,
    ]
    permission_classes = [MachinesOnly]
    parser_classes = [_DeclaresJSON]
    own_body_limit = True  # MAX_BODY_BYTES, read by body_read (413 above it, before parsing)

    def _receiver(self, request) -> Receiver:
        slug = request.query_params.get("service")
        if isinstance(request.user, ReceiverPrincipal):
            receiver = request.user.receiver
            if receiver.kind != self.kind:
                raise exceptions.PermissionDenied(f"Authorization: this token is for a {receiver.kind} receiver.")
            if slug and slug != receiver.service.slug:
                raise exceptions.PermissionDenied("service: this token writes to its receiver's service only.")
        else:
            requested = Service.objects.filter(slug=slug).first() if slug else None
            if slug and requested is None:
                raise exceptions.PermissionDenied("service: this key may only write data of its own service.")
            receiver = receiver_for_service(service=service_for_key(request, requested), kind=self.kind)
        if not receiver.enabled:
            raise exceptions.PermissionDenied(f"Receiver {receiver.name!r} is disabled.")
        return receiver

    def post(self, request):
        receiver = self._receiver(request)
        try:
            raw = body_read(request._request, limit=MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            detail = f"body: exceeds {exc.limit} bytes; lower max_alerts or group alerts further."
            return Response(
                {"detail": detail, "limit_bytes": exc.limit}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        try:
            body = json_repaired(json.loads(raw.decode("utf-8")), raw)
        except ValueError as exc:
            raise exceptions.ValidationError({"body": [f"not JSON: {exc}"]}) from exc
        try:
            alerts = payload_parse(body, kind=self.kind)
        except PayloadInvalid as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from exc
        result = alerts_receive(receiver=receiver, alerts=alerts)
        return Response(result.as_dict() | {"receiver": receiver.name})


# The 400 body is the API's usual one (ValidationError): each bad field, e.g. alerts[2].labels.
BAD_PAYLOAD = OpenApiResponse(
    {"type": "object", "additionalProperties": {}},
    description='Names the first bad field, e.g. {"alerts[2].labels": ["must be an object of strings."]}.',
)
TOO_LARGE = OpenApiResponse(
    {
        "type": "object",
        "properties": {"detail": {"type": "string"}, "limit_bytes": {"type": "integer"}},
        "required": ["detail", "limit_bytes"],
    },
    description="The body is over the receivers' limit (1 MiB); nothing was read.",
)

_SERVICE = OpenApiParameter(
    "service",
    required=False,
    description="With a service key: the key's own service (default). With a receiver token: its service.",
)


class AlertmanagerReceiverView(_ReceiverView):
    kind = ReceiverKind.ALERTMANAGER

    @extend_schema(
        request=inline_serializer(
            "AlertmanagerWebhook", {"version": serializers.CharField(), "alerts": serializers.ListField()}
        ),
        parameters=[_SERVICE],
        responses={200: ResultSerializer, 400: BAD_PAYLOAD, 413: TOO_LARGE},
    )
    def post(self, request):
        """Alertmanager's webhook payload (version 4). Each alert is a portal alert keyed by its
        fingerprint: re-sends update it, `status: resolved` resolves it."""
        return super().post(request)


class GrafanaReceiverView(_ReceiverView):
    kind = ReceiverKind.GRAFANA

    @extend_schema(
        request=inline_serializer(
            "GrafanaWebhook", {"version": serializers.CharField(), "alerts": serializers.ListField()}
        ),
        parameters=[_SERVICE],
        responses={200: ResultSerializer, 400: BAD_PAYLOAD, 413: TOO_LARGE},
    )
    def post(self, request):
        """Grafana alerting's webhook contact point payload (version 1), handled like Alertmanager's."""
        return super().post(request)
