"""API for error projects: each service's DSN, and a new public key when one leaked.

/api/v1/errors/projects/: people with the viewer role read the DSNs (they are no secret: the key
only allows ingest, as in Sentry); admins create a service's project and regenerate its key.
Imported by monitoring.errors.api, which the API URL conf autodiscovers.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.errors.models import ErrorProject
from monitoring.errors.sentry.dsn import dsn_for
from portal.api.router import router
from portal.models import Service


class ErrorProjectSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    dsn = serializers.SerializerMethodField(help_text="What `sentry_sdk.init(dsn=...)` takes.")

    class Meta:
        model = ErrorProject
        fields = ["id", "service", "dsn", "public_key", "alert_on_new", "alert_on_regression", "created_at"]
        read_only_fields = ["public_key", "alert_on_new", "alert_on_regression", "created_at"]

    @extend_schema_field(serializers.CharField())
    def get_dsn(self, project) -> str:
        return dsn_for(project)


class ErrorProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ErrorProject.objects.select_related("service")
    serializer_class = ErrorProjectSerializer
    filterset_fields = {"service__slug": ["exact"]}
    ordering_fields = ["created_at"]

    @extend_schema(responses={200: ErrorProjectSerializer, 201: ErrorProjectSerializer})
    def create(self, request):
        """The service's project (its DSN), made when it has none: 201, or 200 when it existed."""
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        service = body.validated_data["service"]
        existed = ErrorProject.objects.filter(service=service).exists()
        project = ErrorProject.for_service(service)
        return Response(
            self.get_serializer(project).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={200: ErrorProjectSerializer})
    @action(detail=True, methods=["post"], url_path="regenerate-key")
    def regenerate_key(self, request, pk=None):
        """A new public key (and DSN); SDKs still using the old one get 401 from now on."""
        project = self.get_object()
        project.regenerate_key()
        return Response(self.get_serializer(project).data)


router.register("errors/projects", ErrorProjectViewSet, basename="errorproject")
