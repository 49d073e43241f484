"""Ids and dates from query parameters, bounded before they reach the database or date arithmetic.

A 20-digit id was an OverflowError on SQLite (a 500), and `until=9999-12-31T23:59:59Z` overflowed
`until + step` in the metrics query. Every filterset with id or date filters uses these: explicit
ones subclass `PortalFilterSet`, and `filterset_fields` shorthands get it from
`PortalFilterBackend` (the default backend). Serializers validating query parameters use
`BoundedDateTimeField`. Out of range is a 400 naming the parameter.

The API also refuses a filter given a value it reads as nothing (`?until=`, `?enabled=null`):
django-filter treats those as "not given", so a script with an empty variable got every row.
"""

from datetime import UTC, datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EMPTY_VALUES
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.renderers import BrowsableAPIRenderer

MAX_ID = 2**63 - 1  # a bigint: the widest id column on SQLite and PostgreSQL
# Wide enough for any data the portal keeps, narrow enough that `moment ± a few centuries` never
# leaves the datetime range, and after the epoch, which steps are aligned to.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"


def moment_in_range(moment: datetime | None) -> bool:
    return moment is None or EARLIEST <= moment < LATEST


@extend_schema_field(OpenApiTypes.INT)
class WholeNumberFilter(django_filters.NumberFilter):
    """For integer columns: `?min_complexity=0.5` is a 400 naming the field (django-filter's
    NumberFilter reads a Decimal, documented as an integer), bounded like a bigint."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"min_value": -MAX_ID, "max_value": MAX_ID, **kwargs})


class IdFilter(WholeNumberFilter):
    """A whole, in-range id: `?rule=1.5` or a 20-digit number is a 400 naming the field, not a
    silent round-down or an OverflowError (SQLite) turned into a 500."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class BoundedIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC
            raise ValidationError(OUT_OF_RANGE, code="out_of_range") from None
        if not moment_in_range(moment):
            raise ValidationError(OUT_OF_RANGE, code="out_of_range")
        # In UTC: ISO 8601 allows offsets up to ±23:59, PostgreSQL only up to ±15:59 (a 500 there).
        return moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else moment


@extend_schema_field(OpenApiTypes.DATETIME)
class BoundedDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class PortalFilterSet(RestFilterSet):
    """Model ids and date-times get the bounded filters, also when generated from field names."""

    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": BoundedDateTimeFilter},
        models.AutoField: {"filter_class": IdFilter},
        models.BigAutoField: {"filter_class": IdFilter},
        **{
            column: {"filter_class": WholeNumberFilter}
            for column in (
                models.IntegerField,
                models.SmallIntegerField,
                models.BigIntegerField,
                models.PositiveIntegerField,
                models.PositiveSmallIntegerField,
                models.PositiveBigIntegerField,
            )
        },
    }


class PortalFilterBackend(DjangoFilterBackend):
    filterset_base = PortalFilterSet

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        errors = {} if filterset.is_valid() else {name: list(messages) for name, messages in filterset.errors.items()}
        # The browsable API's filter form submits every field; an empty one there means "any".
        if not isinstance(getattr(request, "accepted_renderer", None), BrowsableAPIRenderer):
            errors = {**read_as_nothing(filterset), **errors}
        if errors:
            raise ApiValidationError(errors)
        return filterset.qs


GIVE_A_VALUE = "Give a value, or leave the parameter out."


def read_as_nothing(filterset) -> dict[str, list[str]]:
    """Filters given in the query whose value the form read as empty (no value, or a boolean
    that is neither true nor false)."""
    cleaned = getattr(filterset.form, "cleaned_data", {})
    errors = {}
    for name, given in filterset.filters.items():
        if name not in filterset.data or cleaned.get(name) not in EMPTY_VALUES:
            continue
        if isinstance(given, django_filters.BooleanFilter):
            errors[name] = ["Must be true or false."]
        else:
            errors[name] = [GIVE_A_VALUE]
    return errors


class QueryParamsSerializer(serializers.Serializer):
    """A serializer for query parameters. DRF reads them like an HTML form, where an empty
    field means "not given": `?until=` or `?step=` quietly became the default."""

    def to_internal_value(self, data):
        given = data.getlist if hasattr(data, "getlist") else lambda name: [data[name]]
        empty = {
            name: [GIVE_A_VALUE]
            for name, field in self.fields.items()
            if name in data and "" in given(name) and not getattr(field, "allow_blank", False)
        }
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)


class BoundedDateTimeField(serializers.DateTimeField):
    """DRF's date-time field, refusing moments outside EARLIEST..LATEST."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not moment_in_range(moment):
            self.fail("out_of_range")
        return moment
