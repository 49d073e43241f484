"""/api/v1/integrations/receivers/: the Alertmanager and Grafana receivers.

Viewers read them (never a token: only whether one is set and its prefix); admins create, edit
and delete them, issue a new token (`POST .../token/`, the old one stops working) and revoke it
(`POST .../revoke-token/`). A token appears once, in the answer that issued it; only its hash is
kept, like service keys. Service keys are refused here: they post alerts, not configure receivers.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.integrations.models import Receiver
from monitoring.integrations.receivers import (
    receiver_delete,
    receiver_saved,
    receiver_token_issue,
    receiver_token_revoke,
)
from portal.api.router import router
from portal.models import Service

# The endpoints each kind posts to (portal/urls.py), shown with the receiver so it can be set up.
WEBHOOK_PATHS = {"alertmanager": "/api/v1/integrations/alertmanager/", "grafana": "/api/v1/integrations/grafana/"}


class ReceiverSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    has_token = serializers.SerializerMethodField(help_text="Whether a token is set (it is never shown again).")
    webhook_url = serializers.SerializerMethodField(help_text="Where the Alertmanager or Grafana posts.")

    class Meta:
        model = Receiver
        fields = [
            "id", "name", "kind", "service", "enabled", "severity_label", "severity_map", "default_severity",
            "has_token", "token_prefix", "webhook_url", "rule", "created_at", "last_received_at",
        ]  # fmt: skip
        read_only_fields = ["token_prefix", "rule", "created_at", "last_received_at"]

    def get_has_token(self, obj) -> bool:
        return bool(obj.token_hashed)

    def get_webhook_url(self, obj) -> str:
        path = WEBHOOK_PATHS[obj.kind]
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def validate_kind(self, value):
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("cannot change; add another receiver for the other kind")
        return value


class IssuedReceiverTokenSerializer(ReceiverSerializer):
    token = serializers.CharField(read_only=True, help_text="The receiver's token. Shown only in this response.")

    class Meta(ReceiverSerializer.Meta):
        fields = [*ReceiverSerializer.Meta.fields, "token"]


class ReceiverViewSet(viewsets.ModelViewSet):
    queryset = Receiver.objects.select_related("service").order_by("name")
    serializer_class = ReceiverSerializer
    filterset_fields = {"kind": ["exact"], "enabled": ["exact"], "service__slug": ["exact"]}
    ordering_fields = ["name", "created_at", "last_received_at"]

    @extend_schema(responses={201: IssuedReceiverTokenSerializer})
    def create(self, request, *args, **kwargs):
        """Add a receiver: its managed alert rule is made at once and its token is in this answer only."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        receiver = serializer.save()
        receiver_saved(receiver=receiver)
        return self._with_token(receiver, status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        receiver_saved(receiver=serializer.save())

    def perform_destroy(self, instance):
        """Its open alerts are resolved with its managed rule."""
        receiver_delete(receiver=instance, by=self.request.user, via="api")

    @extend_schema(request=None, responses={200: IssuedReceiverTokenSerializer})
    @action(detail=True, methods=["post"])
    def token(self, request, pk=None):
        """Issue a new token (the previous one stops working). It is in this answer only."""
        return self._with_token(self.get_object(), status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: ReceiverSerializer})
    @action(detail=True, methods=["post"], url_path="revoke-token")
    def revoke_token(self, request, pk=None):
        """The token stops working; the receiver's service keys still post to it."""
        receiver = self.get_object()
        receiver_token_revoke(receiver=receiver)
        return Response(ReceiverSerializer(receiver, context=self.get_serializer_context()).data)

    def _with_token(self, receiver: Receiver, code: int) -> Response:
        raw = receiver_token_issue(receiver=receiver)
        data = ReceiverSerializer(receiver, context=self.get_serializer_context()).data | {"token": raw}
        return Response(data, status=code)


router.register("integrations/receivers", ReceiverViewSet)
