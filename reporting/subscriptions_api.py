"""`/api/v1/reporting/subscriptions/` (people manage their own; admins everyone's) and
`/api/v1/reporting/reports/` (read: one's own reports; admins all). No service key."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring.alerting.models import Channel
from portal.api.router import router
from portal.roles import ADMIN, VIEWER, has_role
from reporting.digest import current_period, report_build, report_send_now, subscription_reschedule
from reporting.models import MAX_SUBSCRIPTIONS_PER_USER, Report, ReportSubscription


def _is_admin(request) -> bool:
    return has_role(request.user, ADMIN)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", "example": "08:00"}
)
class LocalTimeField(serializers.TimeField):
    """A local wall-clock time "HH:MM": OpenAPI's `time` format wants a UTC offset, which a
    time in the subscription's own zone does not have."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class ReportSubscriptionSerializer(serializers.ModelSerializer):
    send_time = LocalTimeField(required=False, help_text="Local time of day in the subscription's time zone.")
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        required=False,
        help_text="Admins only: whose subscription it is (default: yourself).",
    )
    channel = serializers.PrimaryKeyRelatedField(
        queryset=Channel.objects.filter(kind__in=("slack", "webhook")), allow_null=True, required=False
    )

    class Meta:
        model = ReportSubscription
        fields = [
            "id",
            "user",
            "name",
            "frequency",
            "sections",
            "send_time",
            "weekday",
            "monthday",
            "time_zone",
            "email_enabled",
            "channel",
            "enabled",
            "next_send_at",
            "created_at",
        ]
        read_only_fields = ["next_send_at", "created_at"]

    def validate_user(self, user):
        request = self.context["request"]
        if user != request.user and not _is_admin(request):
            raise serializers.ValidationError("You may only manage your own subscriptions.")
        return user

    def validate(self, attrs):
        request = self.context["request"]
        owner = attrs.get("user") or (self.instance.user if self.instance else request.user)
        moving = self.instance is None or owner != self.instance.user
        if moving and ReportSubscription.objects.filter(user=owner).count() >= MAX_SUBSCRIPTIONS_PER_USER:
            raise serializers.ValidationError(
                {"user": f"At most {MAX_SUBSCRIPTIONS_PER_USER} report subscriptions per person."}
            )
        attrs["user"] = owner
        return attrs


class ReportListSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = [
            "id",
            "subscription",
            "user",
            "kind",
            "trigger",
            "period_start",
            "period_end",
            "created_at",
            "sent_at",
            "status",
            "error",
        ]


class ReportSerializer(ReportListSerializer):
    class Meta(ReportListSerializer.Meta):
        fields = [*ReportListSerializer.Meta.fields, "figures", "html", "text"]


PREVIEW = inline_serializer(
    "ReportPreview",
    {
        "subject": serializers.CharField(),
        "period_start": serializers.DateTimeField(),
        "period_end": serializers.DateTimeField(),
        "figures": serializers.DictField(),
        "html": serializers.CharField(),
        "text": serializers.CharField(),
    },
)


class ReportSubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = ReportSubscriptionSerializer
    write_role = VIEWER  # a subscription only concerns its owner
    filterset_fields = ["frequency", "enabled"]
    ordering_fields = ["created_at", "next_send_at", "name"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ReportSubscription.objects.none()
        queryset = ReportSubscription.objects.select_related("user", "channel").order_by("id")
        return queryset if _is_admin(self.request) else queryset.filter(user=self.request.user)

    def perform_create(self, serializer):
        subscription_reschedule(sub=serializer.save())

    def perform_update(self, serializer):
        subscription_reschedule(sub=serializer.save())

    @extend_schema(request=None, responses={200: PREVIEW}, summary="Render the report for now: not stored, not sent")
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        sub = self.get_object()
        start, end = current_period(sub, now=timezone.now())
        built = report_build(sub=sub, period_start=start, period_end=end)
        return Response(
            {
                "subject": built.subject,
                "period_start": start,
                "period_end": end,
                "figures": built.figures,
                "html": built.html,
                "text": built.text,
            }
        )

    @extend_schema(request=None, responses={201: ReportListSerializer}, summary="Store and send the report now")
    @action(detail=True, methods=["post"], url_path="send")
    def send_now(self, request, pk=None):
        report = report_send_now(sub=self.get_object())
        return Response(ReportListSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_fields = ["kind", "status", "subscription"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Report.objects.none()
        queryset = Report.objects.order_by("-created_at", "-id")
        if self.action == "list":
            queryset = queryset.defer("html", "text", "figures")
        return queryset if _is_admin(self.request) else queryset.filter(user=self.request.user)

    def get_serializer_class(self):
        return ReportListSerializer if self.action == "list" else ReportSerializer


router.register("reporting/subscriptions", ReportSubscriptionViewSet, basename="report-subscription")
router.register("reporting/reports", ReportViewSet, basename="report")
