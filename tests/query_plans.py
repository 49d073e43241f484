"""What SQLite's planner does with the queries a page ran: a list ordered without a matching index
sorts the whole table (a temporary B-tree) on every request, whatever the LIMIT."""

from django.db import connection


def whole_table_sorts(queries: list[dict], table: str) -> list[str]:
    """The captured queries reading `table` that SQLite answers by sorting or de-duplicating every
    matching row in a temporary B-tree, with the plan line that says so."""
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.startswith("SELECT") or f'FROM "{table}"' not in sql:
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            steps = [row[-1] for row in cursor.fetchall()]
            found += [f"{step}: {sql}" for step in steps if "TEMP B-TREE" in step]
    return found


def whole_table_scans(queries: list[dict], table: str) -> list[str]:
    """The captured queries that walk all of `table` or all of one of its indexes ("SCAN", where a
    bounded lookup says "SEARCH"): fine under a small LIMIT, not for a query that returns few rows."""
    found = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.startswith("SELECT") or f'FROM "{table}"' not in sql:
                continue
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            found += [f"{row[-1]}: {sql}" for row in cursor.fetchall() if row[-1].startswith(f"SCAN {table}")]
    return found
