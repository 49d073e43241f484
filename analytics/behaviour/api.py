"""Behaviour analysis API (read, viewers and up; service keys refused):

- /api/v1/analytics/paths/       most common paths (2-5 steps) with support and confidence, and
                                 recommendations in plain words;
- /api/v1/analytics/next-steps/  what follows a feature (or each of the most used), "session ends" included;
- /api/v1/analytics/funnels/     an ordered funnel over `step` parameters (2-10) within a window;
- /api/v1/analytics/retention/   weekly retention of users by first-use cohort.

Without since/until a question covers whole UTC days (or weeks) up to today's midnight: the windows
the daily job stores. Any question is answered from a stored result when there is one, else on
demand when it reads at most ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS events; else 400 naming the range.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from analytics.behaviour import compute
from analytics.behaviour.funnels import MAX_STEPS, MAX_WINDOW, MIN_STEPS
from analytics.behaviour.paths import MAX_PATH, MAX_TOP, MAX_WITHIN, MIN_PATH
from analytics.behaviour.retention import MAX_WEEKS
from analytics.models import UsageEvent
from analytics.models_behaviour import BehaviourResult
from portal.api.filters import BoundedDateTimeField, QueryParamsSerializer
from portal.api.router import router
from portal.models import Service

MAX_DAYS = 90
MAX_RANGE = timedelta(days=366)


class RangeQuery(QueryParamsSerializer):
    service = serializers.SlugField(max_length=100)
    since = BoundedDateTimeField(required=False, help_text="With `until`: a range of your own.")
    until = BoundedDateTimeField(required=False)
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, default=7, help_text="Without since/until: whole UTC days up to today."
    )
    kind = serializers.ListField(
        child=serializers.ChoiceField(choices=UsageEvent.Kind.choices),
        required=False,
        max_length=len(UsageEvent.Kind.choices),
        help_text="Event kinds analysed, repeatable; default feature.",
    )

    def validate_service(self, slug):
        service = Service.objects.filter(slug=slug).first()
        if service is None:
            raise serializers.ValidationError(f"No service with slug {slug!r}.")
        return service

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if (since is None) != (until is None):
            raise serializers.ValidationError({"since" if since is None else "until": ["Give both since and until."]})
        if since is not None:
            if since >= until:
                raise serializers.ValidationError({"since": ["Must be before until."]})
            if until - since > MAX_RANGE:
                raise serializers.ValidationError({"since": [f"At most {MAX_RANGE.days} days before until."]})
        return attrs


def _timeout_field():
    return serializers.IntegerField(
        min_value=60, max_value=86_400, required=False, help_text="Seconds of inactivity that end a session."
    )


def _within_field():
    return serializers.IntegerField(
        min_value=1, max_value=int(MAX_WITHIN), default=30, help_text="Seconds: 'B next within N s of A'."
    )


class PathsQuery(RangeQuery):
    length = serializers.IntegerField(min_value=MIN_PATH, max_value=MAX_PATH, required=False)
    top = serializers.IntegerField(min_value=1, max_value=MAX_TOP, default=20, help_text="Paths per length.")
    within = _within_field()
    timeout = _timeout_field()


class NextStepsQuery(RangeQuery):
    feature = serializers.CharField(max_length=200, required=False, help_text="Default: the most used features.")
    top = serializers.IntegerField(min_value=1, max_value=compute.TOP_OUTCOMES, default=10, help_text="Outcomes.")
    within = _within_field()
    timeout = _timeout_field()


class FunnelQuery(RangeQuery):
    step = serializers.ListField(
        child=serializers.CharField(max_length=200),
        min_length=MIN_STEPS,
        max_length=MAX_STEPS,
        help_text=f"Feature names in order, repeated: step=cart&step=checkout ({MIN_STEPS} to {MAX_STEPS}).",
    )
    window = serializers.IntegerField(
        min_value=1, max_value=int(MAX_WINDOW), default=86_400, help_text="Conversion window in seconds."
    )


class RetentionQuery(RangeQuery):
    weeks = serializers.IntegerField(
        min_value=1, max_value=MAX_WEEKS, default=8, help_text="Without since/until: weeks up to today."
    )
    start_event = serializers.CharField(max_length=200, required=False, help_text="Cohort by first use of this.")
    return_event = serializers.CharField(max_length=200, required=False, help_text="Returning means using this.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("since") is not None:
            first, end = compute.retention_weeks(attrs["since"], attrs["until"])
            if end - first > MAX_WEEKS:
                raise serializers.ValidationError({"since": [f"Retention covers at most {MAX_WEEKS} weeks."]})
        return attrs


ANSWER_FIELDS = {
    "service": serializers.CharField(),
    "since": serializers.DateTimeField(),
    "until": serializers.DateTimeField(),
    "source": serializers.CharField(help_text="stored (read from a stored result) or live (computed now)."),
    "computed_at": serializers.DateTimeField(),
    "events": serializers.IntegerField(help_text="Events read to compute it."),
    "params": serializers.DictField(),
}
ADVICE = inline_serializer(
    "BehaviourAdvice",
    {"kind": serializers.CharField(), "text": serializers.CharField(), "numbers": serializers.DictField()},
    many=True,
)
PATH = inline_serializer(
    "BehaviourPath",
    {
        "steps": serializers.ListField(child=serializers.CharField()),
        "length": serializers.IntegerField(),
        "sessions": serializers.IntegerField(),
        "support": serializers.FloatField(help_text="Share of sessions containing the path."),
        "confidence": serializers.FloatField(allow_null=True, help_text="P(last step | the steps before it)."),
    },
    many=True,
)
OUTCOME = inline_serializer(
    "BehaviourNextStep",
    {
        "step": serializers.CharField(allow_null=True, help_text="null: the session ended."),
        "count": serializers.IntegerField(),
        "probability": serializers.FloatField(),
        "within": serializers.IntegerField(allow_null=True, help_text="Of `count`, those within `within` s."),
    },
    many=True,
)
FEATURE_NEXT = inline_serializer(
    "BehaviourFeatureNext",
    {"uses": serializers.IntegerField(), "sessions": serializers.IntegerField(), "outcomes": OUTCOME},
)


class BehaviourViewSet(viewsets.GenericViewSet):
    """Shared by the four questions: validate, pick the window, answer (stored or live)."""

    kind: str
    query_class: type[RangeQuery]
    pagination_class = None
    filter_backends: list = []

    def params(self, q: dict) -> dict:
        raise NotImplementedError

    def shape(self, data: dict, q: dict) -> dict:
        return data

    def window(self, q: dict, now):
        if q.get("since") is not None:
            return q["since"], q["until"], "since"
        return (*compute.day_window(q["days"], now=now), "days")

    def list(self, request, *args, **kwargs):
        query = self.query_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        params = self.params(q)
        since, until, field = self.window(q, timezone.now())
        try:
            answer = compute.behaviour_answer(
                kind=self.kind, service=q["service"], since=since, until=until, params=params
            )
        except compute.TooManyEvents as exc:
            raise ValidationError(
                {
                    field: [
                        f"This question reads more than {exc.limit} events (ANALYTICS_BEHAVIOUR_LIVE_MAX_EVENTS) "
                        "and no stored result answers it: ask for a shorter range, or for the windows stored "
                        "daily (paths and next steps: days=7 or days=30; retention: weeks=8)."
                    ]
                }
            ) from None
        return Response(
            {
                "service": q["service"].slug,
                "since": answer.since,
                "until": answer.until,
                "source": answer.source,
                "computed_at": answer.computed_at,
                "events": answer.events,
                "params": params,
                **self.shape(answer.data, q),
            }
        )


def _session_params(q):
    return compute.default_params(
        BehaviourResult.Kind.PATHS,
        kinds=q.get("kind"),
        timeout=q.get("timeout") or settings.ANALYTICS_BEHAVIOUR_SESSION_TIMEOUT_SECONDS,
        within=q["within"],
    )


class PathsViewSet(BehaviourViewSet):
    kind = BehaviourResult.Kind.PATHS
    query_class = PathsQuery

    def params(self, q):
        return _session_params(q)

    def shape(self, data, q):
        paths = [p for p in data["paths"] if q.get("length") in (None, p["length"])]
        by_length: dict[int, int] = {}
        shown = []
        for path in paths:  # stored most sessions first per length
            by_length[path["length"]] = by_length.get(path["length"], 0) + 1
            if by_length[path["length"]] <= q["top"]:
                shown.append(path)
        return {
            "summary": data["summary"],
            "paths": shown,
            "pairs": data["pairs"][: q["top"]],
            "advice": data["advice"],
        }

    @extend_schema(
        parameters=[PathsQuery],
        responses=inline_serializer(
            "BehaviourPaths",
            {
                **ANSWER_FIELDS,
                "summary": serializers.DictField(),
                "paths": PATH,
                "pairs": serializers.ListField(child=serializers.DictField()),
                "advice": ADVICE,
            },
        ),
    )
    def list(self, request, *args, **kwargs):
        """The most common paths of 2 to 5 steps, most sessions first, and recommendations."""
        return super().list(request, *args, **kwargs)


class NextStepsViewSet(BehaviourViewSet):
    kind = BehaviourResult.Kind.PATHS  # the same pass over the sessions gives both
    query_class = NextStepsQuery

    def params(self, q):
        return _session_params(q)

    def shape(self, data, q):
        found = data["next_steps"]
        if q.get("feature"):
            name = q["feature"]
            one = found.get(name)
            if one is None:
                one = {"uses": None, "sessions": None, "outcomes": [], "note": "not among the most used features"}
            found = {name: one}
        return {"next_steps": {name: {**row, "outcomes": row["outcomes"][: q["top"]]} for name, row in found.items()}}

    @extend_schema(
        parameters=[NextStepsQuery],
        responses=inline_serializer(
            "BehaviourNextSteps",
            {**ANSWER_FIELDS, "next_steps": serializers.DictField(child=FEATURE_NEXT)},
        ),
    )
    def list(self, request, *args, **kwargs):
        """P(next step | feature), the session ending included, per feature."""
        return super().list(request, *args, **kwargs)


class FunnelsViewSet(BehaviourViewSet):
    kind = BehaviourResult.Kind.FUNNEL
    query_class = FunnelQuery

    def params(self, q):
        return compute.default_params(self.kind, kinds=q.get("kind"), steps=q["step"], window=q["window"])

    @extend_schema(
        parameters=[FunnelQuery],
        responses=inline_serializer(
            "BehaviourFunnel",
            {
                **ANSWER_FIELDS,
                "steps": inline_serializer(
                    "BehaviourFunnelStep",
                    {
                        "step": serializers.CharField(),
                        "actors": serializers.IntegerField(),
                        "conversion": serializers.FloatField(allow_null=True),
                        "from_previous": serializers.FloatField(allow_null=True),
                        "dropped": serializers.IntegerField(),
                        "median_seconds": serializers.FloatField(allow_null=True),
                    },
                    many=True,
                ),
                "window_seconds": serializers.FloatField(),
                "actors": serializers.IntegerField(help_text="Users (or sessions without a user) at step 1."),
                "converted": serializers.IntegerField(),
                "conversion": serializers.FloatField(allow_null=True),
                "advice": ADVICE,
            },
        ),
    )
    def list(self, request, *args, **kwargs):
        """Conversion and drop-off per step of an ordered funnel, and the median time between steps."""
        return super().list(request, *args, **kwargs)


class RetentionViewSet(BehaviourViewSet):
    kind = BehaviourResult.Kind.RETENTION
    query_class = RetentionQuery

    def params(self, q):
        return compute.default_params(
            self.kind, kinds=q.get("kind"), start_event=q.get("start_event"), return_event=q.get("return_event")
        )

    def window(self, q, now):
        if q.get("since") is not None:
            return q["since"], q["until"], "since"
        return (*compute.retention_window(q["weeks"], now=now), "weeks")

    @extend_schema(
        parameters=[RetentionQuery],
        responses=inline_serializer(
            "BehaviourRetention",
            {
                **ANSWER_FIELDS,
                "weeks": serializers.IntegerField(),
                "users": serializers.IntegerField(),
                "outside": serializers.IntegerField(help_text="Users whose first use is before the range."),
                "cohorts": inline_serializer(
                    "BehaviourCohort",
                    {
                        "week_start": serializers.DateField(),
                        "users": serializers.IntegerField(),
                        "retained": serializers.ListField(child=serializers.IntegerField()),
                        "share": serializers.ListField(child=serializers.FloatField(allow_null=True)),
                    },
                    many=True,
                ),
            },
        ),
    )
    def list(self, request, *args, **kwargs):
        """Per weekly cohort of first use: users, and how many came back in each later week."""
        return super().list(request, *args, **kwargs)


router.register("analytics/paths", PathsViewSet, basename="analytics-paths")
router.register("analytics/next-steps", NextStepsViewSet, basename="analytics-next-steps")
router.register("analytics/funnels", FunnelsViewSet, basename="analytics-funnels")
router.register("analytics/retention", RetentionViewSet, basename="analytics-retention")
