"""Date arithmetic done by the database itself, in UTC.

Django's date functions on SQLite (TruncDate, Extract, duration arithmetic) call a Python function
per row, several times the cost of the query around them; these say the same in each vendor's
own SQL. Django stores date-times in UTC (USE_TZ): on SQLite as 'YYYY-MM-DD HH:MM:SS[.ffffff]'
text, on PostgreSQL as timestamptz.
"""

from django.db.models import DateField, FloatField, Func


class UtcDate(Func):
    """The UTC calendar day of a date-time column, whatever TIME_ZONE says."""

    arity = 1
    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="((%(expressions)s) AT TIME ZONE 'UTC')::date", **extra)


class EpochSeconds(Func):
    """A date-time as float seconds since the epoch, computed by the database: Django turning
    SQLite's date-time text into an aware datetime costs ~3 us a row, more than analysing the row.
    The order still comes from the indexed column."""

    output_field = FloatField()

    @property
    def convert_value(self):
        return self._convert_value_noop  # the database already answers a float: no call per row

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC). julianday's double is only exact to
        # ~50 us, so it gives the whole seconds (rounded) and the fraction is read as text.
        template = (
            "(CAST((julianday(substr(%(expressions)s, 1, 19)) - 2440587.5) * 86400.0 + 0.5 AS INTEGER)"
            " + CAST(substr(%(expressions)s, 20) AS REAL))"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


class SecondsBetween(Func):
    """end - start in seconds (to the millisecond), computed by the database itself: Django's
    duration arithmetic calls a Python function per row on SQLite, several times slower."""

    arity = 2
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(ROUND((julianday(%(expressions)s)) * 86400000.0) / 1000.0)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))::float8", arg_joiner=" - ", **extra
        )
