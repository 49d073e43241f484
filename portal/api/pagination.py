"""Page numbers for lists, cursors for event streams; `page_size`, `page` and `cursor` that cannot
be read are a 400 naming the parameter.

DRF ignores a `page_size` it cannot read (`abc`, `1.5`, `0`) and quietly cuts one over the
maximum, so a client asking for 1,000 rows got 500 and 50 when it asked for `true`, with a 200
either way; a garbled cursor was a 404 like a missing object.
"""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

MAX_PAGE_SIZE = 500
WHOLE = re.compile(r"[0-9]{1,18}")  # digits only: no sign, no spaces, no 1e3; 18 digits fit any int column
PAGE_SIZE_HELP = f"Number of results to return per page, 1 to {MAX_PAGE_SIZE} (default 50)."
PAGE_SIZE_ERROR = f"A whole number from 1 to {MAX_PAGE_SIZE}."


def whole_number(raw: str, *, low: int, high: int | None) -> int | None:
    """`raw` as an int within low..high, else None."""
    if not WHOLE.fullmatch(raw):
        return None
    number = int(raw)
    return number if low <= number and (high is None or number <= high) else None


class StrictPageSize:
    page_size_query_param = "page_size"
    page_size_query_description = PAGE_SIZE_HELP
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = whole_number(raw, low=1, high=self.max_page_size)
        if size is None:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_ERROR]})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class PagePagination(StrictPageSize, PageNumberPagination):
    page_query_description = "A page number, from 1 (`last` for the last page); past the last page: 404."

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None or raw in self.last_page_strings:
            return super().get_page_number(request, paginator)
        if whole_number(raw, low=1, high=None) is None:
            raise ValidationError({self.page_query_param: ["A whole number from 1, or `last`."]})
        return raw

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class TimeCursorPagination(StrictPageSize, CursorPagination):
    """For event streams: stable under inserts, no COUNT(*) over large tables."""

    ordering = "-created_at"
    cursor_query_description = "The `next` or `previous` link's cursor, as given."
    invalid_cursor = "Not a cursor this list gave: follow its `next` and `previous` links."

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor]}) from None
        if cursor is not None and cursor.position is not None:
            # The position goes into `WHERE created_at < position`: an unreadable date there was a 500.
            field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
            try:
                field.to_python(cursor.position)
            except (DjangoValidationError, OverflowError):
                raise ValidationError({self.cursor_query_param: [self.invalid_cursor]}) from None
        return cursor
