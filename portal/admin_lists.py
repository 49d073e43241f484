"""Admin changelists over tables of millions of rows (alerts, events, deliveries, samples, results).

An exact COUNT(*) on every page view, and a date hierarchy (a DISTINCT over every row's date),
take seconds at that size. `BigTableAdmin` counts at most CAP + 1 rows and shows "10,000+";
date navigation there is a `DateFieldListFilter` (today / past 7 days / this month / this year),
which costs no query. The list's ordering must have an index (tests/portal/test_admin_lists.py).
"""

from urllib.parse import parse_qsl, urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCount(int):
    """A row count that stopped at CAP + 1: at least this many rows. Prints as "10,000+", so the
    admin's templates ("10,000+ alerts", "Select all 10,000+") need no change."""

    def __str__(self) -> str:
        return f"{int(self) - 1:,}+"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else super().__format__(spec)


class CappedPaginator(Paginator):
    """Counts at most CAP + 1 rows (`SELECT COUNT(*) FROM (SELECT ... LIMIT CAP + 1)`). Past the
    cap it offers CAP rows' worth of full pages; filters narrow the list from there."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by()[: self.CAP + 1].count()
        return CappedCount(counted) if counted > self.CAP else counted

    @property
    def capped(self) -> bool:
        return isinstance(self.count, CappedCount)

    def page(self, number):
        if not self.capped:
            return super().page(number)
        # Paginator trims the last page to `count`, which here is not the end of the rows.
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)


class RowLinksChangeList(ChangeList):
    """Row links carry the list's filters (saving a row returns to the filtered list) as
    Django's do, without its add_preserved_filters resolving every row's URL against the whole
    URL conf to learn it is not the changelist's: 100 resolves were ~15 % of a filtered page."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # What add_preserved_filters appends to a change URL, computed once for the page.
        self.row_query = urlencode(dict(parse_qsl(self.preserved_filters)))
        self.preserved_filters = ""  # read only by the row links (admin_list.items_for_result)

    def url_for_result(self, result) -> str:
        url = super().url_for_result(result)
        return f"{url}?{self.row_query}" if self.row_query else url


class BigTableAdmin(admin.ModelAdmin):
    paginator = CappedPaginator
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return RowLinksChangeList
