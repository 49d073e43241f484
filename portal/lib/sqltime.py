"""Date arithmetic done by the database itself, in UTC.

Django's date functions on SQLite (TruncDate, Extract, duration arithmetic) call a Python function
per row, several times the cost of the query around them; these say the same in each vendor's
own SQL. Django stores date-times in UTC (USE_TZ): on SQLite as 'YYYY-MM-DD HH:MM:SS[.ffffff]'
text, on PostgreSQL as timestamptz.
"""

from django.db.models import DateField, Func


class UtcDate(Func):
    """The UTC calendar day of a date-time column, whatever TIME_ZONE says."""

    arity = 1
    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="((%(expressions)s) AT TIME ZONE 'UTC')::date", **extra)
