from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class TimeCursorPagination(CursorPagination):
    """For event streams: stable under inserts, no COUNT(*) over large tables."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 500
