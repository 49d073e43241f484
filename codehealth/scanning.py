"""Scans: create one, run it (analyse, store, track debt, apply the gate).

A scan stores only the file versions it has not seen before; unchanged files (same path,
content hash and analysis key) are linked from earlier scans. All writes are bulk inserts or
set-based UPDATEs, so the number of queries of a scan does not grow with the number of files.
"""

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from codehealth.analyzer import Finding, SourceFile, analyze_sources, read_files, stat_tree
from codehealth.analyzer.gitsource import head_commit
from codehealth.analyzer.pylint_runner import pylint_run
from codehealth.conf import analysis_key, excludes_for, thresholds_for
from codehealth.debt_tracking import debt_seen_again, debt_track
from codehealth.gates import gate_apply
from codehealth.models import CodeRepository, CodeScan, DebtItem, FileMetrics, FunctionMetrics, ScanFile, path_digest
from codehealth.roots import repository_root

if TYPE_CHECKING:  # the analysis (radon) loads only when a scan has files to analyse
    from codehealth.analyzer.source import FileReport

logger = logging.getLogger(__name__)
BATCH = 500
_NONE = ("", "", 0)  # no earlier version: matches no stat signature
STALE_AFTER = timedelta(hours=6)
TASK_GRACE = timedelta(minutes=1)
# Scans run by django-q2 tasks (see tasks.scan_queue), which have a time limit.
QUEUED_TRIGGERS = (CodeScan.Trigger.API, CodeScan.Trigger.ADMIN, CodeScan.Trigger.SCHEDULE)
IN_PROGRESS = (CodeScan.Status.QUEUED, CodeScan.Status.RUNNING)
_BLOCK_FIELDS = (
    "file",
    "qualname",
    "kind",
    "line",
    "end_line",
    "length",
    "complexity",
    "rank",
    "cognitive",
    "max_nesting",
    "parameters",
    "methods",
)


class ScanError(Exception):
    """A scan cannot run (bad path, another scan running); the message is for people."""


def scan_create(
    *,
    repository: CodeRepository,
    trigger: str = CodeScan.Trigger.COMMAND,
    with_pylint: bool | None = None,
    commit: str = "",
    committed_at: datetime | None = None,
    now: datetime | None = None,
) -> CodeScan:
    return CodeScan.objects.create(
        repository=repository,
        trigger=trigger,
        with_pylint=repository.pylint_enabled if with_pylint is None else with_pylint,
        commit=commit,
        committed_at=committed_at,
        queued_at=now or timezone.now(),
    )


def scans_abandoned_fail(*, repository_id: int, now: datetime, starting: int | None = None) -> None:
    """Fail the repository's scans no worker will finish, so they do not hold it for ever (the
    scan `starting` is being claimed: late, but not lost). Call with the repository row locked."""
    scans = CodeScan.objects.filter(repository_id=repository_id).exclude(pk=starting)
    running = scans.filter(status=CodeScan.Status.RUNNING)
    # A worker killed mid-scan leaves its scan "running" forever.
    # A queued scan's task is killed at CODEHEALTH_SCAN_TIMEOUT; a command line scan has no limit.
    running.filter(started_at__lt=now - STALE_AFTER).update(
        status=CodeScan.Status.FAILED, error="abandoned: no result after 6 hours", finished_at=now
    )
    task_limit = timedelta(seconds=settings.CODEHEALTH_SCAN_TIMEOUT) + TASK_GRACE
    running.filter(trigger__in=QUEUED_TRIGGERS, started_at__lt=now - task_limit).update(
        status=CodeScan.Status.FAILED, error="abandoned: its task ran out of time", finished_at=now
    )
    # A task lost with its broker (or queued while no worker ever ran) would be reused for ever.
    scans.filter(status=CodeScan.Status.QUEUED, queued_at__lt=now - STALE_AFTER).update(
        status=CodeScan.Status.FAILED, error="abandoned: not started within 6 hours", finished_at=now
    )


def _claim(scan: CodeScan, now: datetime) -> bool:
    """queued -> running, unless another scan of the repository is running (its file versions
    and debt items would race with ours)."""
    with transaction.atomic():
        CodeRepository.objects.select_for_update().filter(pk=scan.repository_id).first()
        scans_abandoned_fail(repository_id=scan.repository_id, now=now, starting=scan.pk)
        running = CodeScan.objects.filter(repository_id=scan.repository_id, status=CodeScan.Status.RUNNING)
        busy = running.exists()
        if busy:
            CodeScan.objects.filter(pk=scan.pk, status=CodeScan.Status.QUEUED).update(
                status=CodeScan.Status.FAILED, error="another scan of this repository is running", finished_at=now
            )
            return False
        return bool(
            CodeScan.objects.filter(pk=scan.pk, status=CodeScan.Status.QUEUED).update(
                status=CodeScan.Status.RUNNING, started_at=now
            )
        )


def scan_run(
    *,
    scan: CodeScan,
    files: list[SourceFile] | None = None,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    now: datetime | None = None,
) -> CodeScan:
    """Run a queued scan to its end and return it refreshed. `files` None reads the
    repository's directory; history scans pass the files of a commit. Failures are recorded on
    the scan (status failed, error), never raised, so a worker survives a bad repository."""
    now = now or timezone.now()
    if not _claim(scan, now):
        scan.refresh_from_db()
        return scan
    # Claimed: only these two columns changed (no reload, so a repository given to
    # scan_create stays loaded).
    scan.status, scan.started_at = CodeScan.Status.RUNNING, now
    try:
        _execute(scan, files, workers or settings.CODEHEALTH_WORKERS, progress, now)
        return scan  # saved by _execute as it is in memory
    except ScanError as exc:
        _fail(scan, str(exc))
    except Exception as exc:
        logger.exception("scan %s failed", scan.pk)
        _fail(scan, f"{type(exc).__name__}: {exc}")
    scan.refresh_from_db()
    return scan


def _fail(scan: CodeScan, error: str) -> None:
    CodeScan.objects.filter(pk=scan.pk).update(status=CodeScan.Status.FAILED, error=error, finished_at=timezone.now())


def _execute(scan: CodeScan, files, workers: int, progress, now: datetime) -> None:
    repository = scan.repository
    limits = thresholds_for(repository)
    key = analysis_key(limits)
    root = Path(repository.path)
    live = files is None
    latest, previous = _latest_versions(repository, key)
    if live:
        if scan.trigger != CodeScan.Trigger.COMMAND:
            # Checked again here: the directory may have become a symlink since it was registered.
            try:
                root = repository_root(repository.path)
            except ValueError as exc:
                raise ScanError(str(exc)) from exc
        if not root.is_dir():
            raise ScanError(f"path {repository.path!r} is not a directory")
        listing = stat_tree(root, excludes_for(repository))
        # A file whose stat is what the latest scan saw still has the content hash it had then.
        unread = {path: previous[path][0] for path, stat in listing if stat and stat == previous.get(path, _NONE)[1]}
        files = read_files(root, [path for path, _ in listing if path not in unread])
        scan.commit = scan.commit or head_commit(root)
    else:
        listing, unread = [(f.path, "") for f in files], {}
    hashes = {**unread, **{f.path: f.content_hash for f in files}}
    known = _known_versions(repository, key, hashes, previous)
    todo = [f for f in files if (f.path, f.content_hash) not in known]
    if progress:
        progress("analyse", 0, len(todo))
    done = 0

    def tick(n):
        nonlocal done
        done += n
        if progress:
            progress("analyse", done, len(todo))

    reports = list(analyze_sources(todo, limits, workers=workers, progress=tick))
    pylint = None
    if scan.with_pylint and live:
        if progress:
            progress("pylint", 0, 1)
        pylint = pylint_run(root, [path for path, _ in listing], timeout=settings.CODEHEALTH_PYLINT_TIMEOUT)
        if progress:
            progress("pylint", 1, 1)
    with transaction.atomic():
        if live and pylint is None and not files and _unchanged_since(latest, set(known.values()), previous):
            # Every file's stat is what the latest scan recorded (nothing was read), so its links
            # would be written again unchanged: point at that scan instead (O(1) rows).
            _take_over(scan, latest, same=True)
            scan.status = CodeScan.Status.SUCCEEDED
            scan.finished_at = timezone.now()
            scan.save()
            return
        new_ids = _store_versions(repository, scan, key, reports)
        ids = {path: new_ids.get(path) or known[(path, digest)] for path, digest in hashes.items()}
        links = [(scan.pk, ids[path], path not in new_ids, stat) for path, stat in listing]
        _insert_rows(ScanFile, ("scan", "file", "reused", "stat"), links)
        if pylint is not None:
            scan.pylint_score, scan.pylint_error = pylint.score, pylint.error
        if live and pylint is None and _unchanged_since(latest, set(ids.values()), previous):
            _take_over(scan, latest, same=False)  # same versions, new stat signatures recorded above
        else:
            _totals(scan, reused=len(listing) - len(todo))
            if live:
                _track(scan, reports, pylint, now)
        scan.status = CodeScan.Status.SUCCEEDED
        scan.finished_at = timezone.now()
        scan.save()


def _track(scan: CodeScan, reports: list["FileReport"], pylint, now: datetime) -> None:
    """Debt items compared with every finding of this scan, then the gate."""
    findings = [f for r in reports for f in r.findings] + _reused_findings(scan)
    pylint_ran = pylint is not None and not pylint.error
    if pylint_ran:
        findings += pylint.findings
    tracked = debt_track(scan=scan, findings=findings, pylint_ran=pylint_ran, now=now)
    scan.new_debt, scan.fixed_debt = tracked.new, tracked.fixed
    scan.debt_count, scan.debt_minutes = _open_debt(scan.repository_id)
    gate_apply(scan=scan, new_by_severity=tracked.new_by_severity, baseline=tracked.baseline)


def _open_debt(repository_id: int) -> tuple[int, int]:
    """(items, remediation minutes) of the repository's open debt."""
    found = DebtItem.objects.filter(repository_id=repository_id, status=DebtItem.Status.OPEN).aggregate(
        n=Count("id"), minutes=Sum("remediation_minutes")
    )
    return found["n"], found["minutes"] or 0


def _unchanged_since(latest: CodeScan | None, file_ids: set[int], previous: dict) -> bool:
    """True when this live scan saw exactly the file versions of the latest scan, itself a live
    one, and the repository's open debt is still what that scan left: then every finding, total
    and debt item is as that scan found it (debt items change only in live scans)."""
    if latest is None or latest.trigger == CodeScan.Trigger.HISTORY or latest.files != len(file_ids):
        return False
    if file_ids != {pk for _, _, pk in previous.values()}:
        return False
    # Someone may have deleted debt items by hand since: then compare item by item to recreate them.
    return _open_debt(latest.repository_id) == (latest.debt_count, latest.debt_minutes)


def _take_over(scan: CodeScan, latest: CodeScan, *, same: bool) -> None:
    """An unchanged tree: the latest scan's totals and verdict inputs. `same` (its links not
    written again): the scan points at the latest one, and its open items count as seen through
    that pointer; otherwise they are marked seen by this scan."""
    for name in _TOTAL_FIELDS:
        setattr(scan, name, getattr(latest, name))
    scan.files_reused, scan.files_analyzed = scan.files, 0
    scan.debt_count, scan.debt_minutes = latest.debt_count, latest.debt_minutes
    scan.new_debt = scan.fixed_debt = 0
    if same:
        scan.same_as_id = latest.files_scan_id  # one step: a chain of unchanged scans points at its start
    else:
        debt_seen_again(scan=scan, pylint_ran=False)
    gate_apply(scan=scan, new_by_severity=Counter(), baseline=False)


def _latest_versions(repository, key: str) -> tuple[CodeScan | None, dict[str, tuple[str, str, int]]]:
    """The latest finished scan and, for each of its files analysed with this key, path ->
    (content hash, stat signature, FileMetrics id)."""
    latest = CodeScan.objects.filter(repository=repository, status=CodeScan.Status.SUCCEEDED).order_by("-id").first()
    if latest is None:
        return None, {}
    rows = ScanFile.objects.filter(scan_id=latest.files_scan_id, file__analysis_key=key).values_list(
        "file__path", "file__content_hash", "stat", "file_id"
    )
    return latest, {path: (digest, stat, pk) for path, digest, stat, pk in rows}


def _known_versions(repository, key: str, hashes: dict[str, str], previous: dict) -> dict[tuple[str, str], int]:
    """(path, content hash) -> FileMetrics id for the files analysed before with this key: the
    latest scan's versions, then the rest (changed or reverted files) by hash."""
    known = {
        (path, digest): previous[path][2]
        for path, digest in hashes.items()
        if path in previous and previous[path][0] == digest
    }
    wanted = set(hashes.items())
    missing = sorted({digest for path, digest in wanted if (path, digest) not in known})
    for start in range(0, len(missing), BATCH):
        rows = FileMetrics.objects.filter(
            repository=repository, analysis_key=key, content_hash__in=missing[start : start + BATCH]
        ).values_list("id", "path", "content_hash")
        known.update({(path, digest): pk for pk, path, digest in rows if (path, digest) in wanted})
    return known


def _file_row(repository, scan, key: str, report: "FileReport") -> FileMetrics:
    row = FileMetrics(
        repository=repository,
        path=report.path,
        path_hash=path_digest(report.path),
        content_hash=report.content_hash,
        analysis_key=key,
        first_scan=scan,
        error=report.error,
        findings=[_finding_json(f) for f in report.findings],
        debt_count=len(report.findings),
        debt_minutes=sum(f.minutes for f in report.findings),
        imports=report.imports,
    )
    if report.raw is None:
        return row
    raw = report.raw
    functions = report.functions
    row.loc, row.lloc, row.sloc, row.comments = raw.loc, raw.lloc, raw.sloc, raw.comments
    row.multi, row.blank, row.single_comments = raw.multi, raw.blank, raw.single_comments
    row.complexity = report.complexity
    row.complexity_sum = sum(b.complexity for b in functions)
    row.worst_complexity = max((b.complexity for b in functions), default=0)
    row.cognitive = sum(b.cognitive for b in functions)
    row.worst_cognitive = max((b.cognitive for b in functions), default=0)
    row.mi, row.mi_rank = report.mi, report.mi_rank
    row.halstead_volume = report.halstead_volume
    row.halstead_difficulty = report.halstead_difficulty
    row.halstead_effort = report.halstead_effort
    row.function_count = len(functions)
    row.class_count = len(report.blocks) - len(functions)
    return row


def _store_versions(repository, scan, key: str, reports: list["FileReport"]) -> dict[str, int]:
    """Store new file versions with their functions; returns path -> id."""
    rows = [_file_row(repository, scan, key, r) for r in reports]
    FileMetrics.objects.bulk_create(rows, batch_size=BATCH)  # ids come back (RETURNING)
    # ~10 blocks per file: plain executemany, because bulk_create's per-object preparation cost
    # more than the analysis of a file (and SQLite batches would be ~80 rows).
    params = [
        (
            row.pk,
            b.qualname[:300],
            b.kind,
            b.line,
            b.end_line,
            b.length,
            b.complexity,
            b.rank,
            b.cognitive,
            b.max_nesting,
            b.parameters,
            b.methods,
        )
        for row, report in zip(rows, reports, strict=True)
        for b in report.blocks
    ]
    _insert_rows(FunctionMetrics, _BLOCK_FIELDS, params)
    return {row.path: row.pk for row in rows}


def _insert_rows(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT plain rows with executemany (no ids needed back). Table and column names come
    from the model, never from input."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _finding_json(f: Finding) -> list:
    return [f.kind, f.severity, f.line, f.symbol, f.message, f.minutes, f.fingerprint, f.rule]


def _reused_findings(scan: CodeScan) -> list[Finding]:
    rows = FileMetrics.objects.filter(scan_files__scan=scan, scan_files__reused=True).values_list("path", "findings")
    return [
        Finding(kind, severity, path, line, symbol, message, minutes, fp, rule)
        for path, stored in rows
        for kind, severity, line, symbol, message, minutes, fp, rule in stored
    ]


# What _totals derives from the scan's file versions (the same versions give the same values).
_TOTAL_FIELDS = (
    "files", "files_failed", "functions", "loc", "sloc", "comments", "average_complexity", "worst_complexity",
    "average_cognitive", "average_mi",
)  # fmt: skip


def _totals(scan: CodeScan, *, reused: int) -> None:
    ok = Q(file__error="")
    agg = ScanFile.objects.filter(scan=scan).aggregate(
        files=Count("id"),
        failed=Count("id", filter=~ok),
        functions=Sum("file__function_count"),
        loc=Sum("file__loc"),
        sloc=Sum("file__sloc"),
        comments=Sum("file__comments"),
        cc_sum=Sum("file__complexity_sum"),
        cc_worst=Max("file__worst_complexity"),
        cog_sum=Sum("file__cognitive"),
        mi_sum=Sum("file__mi", filter=ok),
        mi_files=Count("id", filter=ok),
        debt=Sum("file__debt_count"),
        minutes=Sum("file__debt_minutes"),
    )
    functions = agg["functions"] or 0
    scan.files, scan.files_failed, scan.functions = agg["files"], agg["failed"], functions
    scan.files_reused, scan.files_analyzed = reused, agg["files"] - reused
    scan.loc, scan.sloc, scan.comments = agg["loc"] or 0, agg["sloc"] or 0, agg["comments"] or 0
    scan.average_complexity = (agg["cc_sum"] or 0) / functions if functions else None
    scan.average_cognitive = (agg["cog_sum"] or 0) / functions if functions else None
    scan.worst_complexity = agg["cc_worst"] or 0
    scan.average_mi = (agg["mi_sum"] / agg["mi_files"]) if agg["mi_files"] else None
    # Per-commit figures for history scans; live scans overwrite them with tracked open debt.
    scan.debt_count, scan.debt_minutes = agg["debt"] or 0, agg["minutes"] or 0
