"""API for services, their keys and their deployments."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.api.ingest import idempotency_key
from portal.api.permissions import is_service, service_for_key
from portal.api.router import router
from portal.keys import service_key_issue, service_key_revoke
from portal.models import Deployment, Service, ServiceKey


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "owner_group", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"slug": {"required": False}}


class ServiceKeySerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ServiceKey
        fields = ["id", "service", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class IssuedKeySerializer(ServiceKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. Shown only in this response.")

    class Meta(ServiceKeySerializer.Meta):
        fields = [*ServiceKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class KeyRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    lookup_field = "slug"
    filterset_fields = ["owner_group"]
    ordering_fields = ["name", "created_at"]

    @extend_schema(request=KeyRequestSerializer, responses={201: IssuedKeySerializer})
    @action(detail=True, methods=["post"])
    def keys(self, request, slug=None):
        """Issue a new key for this service. The full key appears in this response only."""
        service = self.get_object()
        body = KeyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = service_key_issue(service=service, name=body.validated_data.get("name", ""))
        data = IssuedKeySerializer(issued.key).data | {"key": issued.raw}
        return Response(data, status=status.HTTP_201_CREATED)


class ServiceKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ServiceKey.objects.select_related("service")
    serializer_class = ServiceKeySerializer
    filterset_fields = {"service__slug": ["exact"], "revoked_at": ["isnull"]}

    @extend_schema(request=None, responses={200: ServiceKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = self.get_object()
        service_key_revoke(key=key)
        key.refresh_from_db()
        return Response(ServiceKeySerializer(key).data)


class DeploymentSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all(), required=False)

    class Meta:
        model = Deployment
        fields = ["id", "service", "version", "environment", "description", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        request = self.context["request"]
        if is_service(request):
            attrs["service"] = service_for_key(request, attrs.get("service"))
        elif "service" not in attrs:
            raise serializers.ValidationError({"service": ["This field is required."]})
        return attrs


DEPLOYMENT_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Sending a deployment again with the same key (per service, kept with the deployment) "
    "answers 200 with the deployment recorded first and writes nothing.",
)


class DeploymentViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Deployments: a service records its own releases with its key; admins may record one for
    any service; people read them. (A deployment marks charts and explains changes, so recording
    one for someone else's service is an admin's call, not an operator's.)"""

    queryset = Deployment.objects.select_related("service")
    serializer_class = DeploymentSerializer
    filterset_fields = {"service__slug": ["exact"], "environment": ["exact"], "created_at": ["gte", "lt"]}
    service_key_actions = ("create",)

    @extend_schema(
        parameters=[DEPLOYMENT_IDEMPOTENCY_KEY],
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Record a deployment: 201. Sent again with the same Idempotency-Key (a retry after a lost
        answer): 200 with the deployment recorded the first time, and nothing written."""
        key = idempotency_key(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        service = serializer.validated_data["service"]
        if key and (first := self._recorded(service, key)) is not None:
            return Response(self.get_serializer(first).data)
        try:
            with transaction.atomic():
                serializer.save(idempotency_key=key)
        except IntegrityError:
            # Two retries at once: the unique constraint let one in; answer with its row.
            first = self._recorded(service, key) if key else None
            if first is None:
                raise
            return Response(self.get_serializer(first).data)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _recorded(service: Service, key: str) -> Deployment | None:
        return Deployment.objects.select_related("service").filter(service=service, idempotency_key=key).first()


router.register("services", ServiceViewSet)
router.register("service-keys", ServiceKeyViewSet)
router.register("deployments", DeploymentViewSet)
