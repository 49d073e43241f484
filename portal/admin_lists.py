"""Admin changelists over tables of millions of rows (alerts, events, deliveries, samples, results).

An exact COUNT(*) on every page view, and a date hierarchy (a DISTINCT over every row's date),
take seconds at that size. `BigTableAdmin` counts at most CAP + 1 rows and shows "10,000+";
date navigation there is a `DateFieldListFilter` (today / past 7 days / this month / this year),
which costs no query. The list's ordering must have an index (tests/portal/test_admin_lists.py).
"""

from django.contrib import admin
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


class BigTableAdmin(admin.ModelAdmin):
    paginator = CappedPaginator
    show_full_result_count = False
