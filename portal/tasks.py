"""django-q2 entry points of the portal itself."""

from django.db import connection


def ping() -> str:
    """A trivial task used to prove the queue end to end (and by `portal_setup --check-queue`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return "pong" if cursor.fetchone()[0] == 1 else "unexpected"
