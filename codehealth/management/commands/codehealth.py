"""`manage.py codehealth scan PATH` and `manage.py codehealth history PATH --commits N`.

Exit status: 0 when the scan passed its quality gate, 1 when the gate failed, 2 when the scan
could not run (bad path, not a git repository, ...) — so CI can tell "worse code" from "broken job".
"""

import gc
import json
from functools import cached_property
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from codehealth.history import history_run
from codehealth.models import CodeRepository, CodeScan, DebtItem
from codehealth.scanning import ScanError, scan_create, scan_run

GATE_FAILED, CANNOT_RUN = 1, 2
# A repository is named after its directory, cut to fit the name column with a "-N" suffix.
NAME_ROOM = CodeRepository._meta.get_field("name").max_length - 8


class Command(BaseCommand):
    help = "Scan a directory for code health, or scan the last N commits of a git repository for trends."
    # The system checks import the whole URL conf and every template library, which costs more
    # than an unchanged scan itself; `manage.py check` and the web process still run them.
    requires_system_checks = []

    def run_from_argv(self, argv):
        # Run as its own process (manage.py; call_command does not come here): the ~70,000 objects
        # of Django's start-up live until exit, and the cyclic collector would walk them in every
        # older-generation pass of the scan and once more at exit, ~20% of an unchanged re-scan's
        # CPU. Frozen, it leaves them alone.
        gc.freeze()
        super().run_from_argv(argv)

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{scan,history}")
        scan = actions.add_parser("scan", help="scan a directory now; exit 1 if the quality gate fails")
        scan.add_argument("path", help="directory to scan")
        scan.add_argument("--repo", help="repository name (default: the one with this path, or the directory name)")
        scan.add_argument("--pylint", action="store_true", help="also run pylint (JSON output, time-limited)")
        scan.add_argument("--json", action="store_true", help="print the result as JSON")
        scan.add_argument("--workers", type=int, help="analysis processes (default CODEHEALTH_WORKERS)")
        history = actions.add_parser("history", help="scan the last N commits of a git repository")
        history.add_argument("path", help="a directory inside a git work tree")
        history.add_argument("--commits", type=int, default=10, help="how many commits back (default 10)")
        history.add_argument("--repo", help="repository name")
        history.add_argument("--json", action="store_true", help="print the result as JSON")
        history.add_argument("--workers", type=int, help="analysis processes")

    def handle(self, *args, action, **options):
        self.tty = self.stdout.isatty()
        self.interactive = self.tty and not options["json"]
        path = Path(options["path"]).expanduser()
        if not path.exists():
            raise CommandError(f"{options['path']}: no such directory", returncode=CANNOT_RUN)
        if not path.is_dir():
            raise CommandError(f"{options['path']}: not a directory", returncode=CANNOT_RUN)
        repository = self.repository(path.resolve(), options.get("repo"))
        if action == "history":
            return self.history(repository, options)
        return self.scan(repository, options)

    def repository(self, path: Path, name: str | None) -> CodeRepository:
        if name:
            repo, created = CodeRepository.objects.get_or_create(name=name, defaults={"path": str(path)})
            if not created and repo.path != str(path):
                self.stderr.write(f"repository {name}: path changed from {repo.path} to {path}")
                repo.path = str(path)
                repo.save(update_fields=["path"])
            return repo
        repo = CodeRepository.objects.filter(path=str(path)).order_by("id").first()
        if repo:
            return repo
        base = path.name[:NAME_ROOM] or "repository"
        candidate, n = base, 1
        while CodeRepository.objects.filter(name=candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        return CodeRepository.objects.create(name=candidate, path=str(path))

    # rich only on a terminal: a CI log gets plain text, and every CI run would pay ~0.1 s to import rich.
    @cached_property
    def console(self):
        from rich.console import Console  # on a terminal only (see above)

        return Console(file=self.stdout, highlight=False)

    def table(self, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]], *, header=True, right=()):
        """rich's table on a terminal; plain aligned text in a log. `right`: columns aligned right."""
        if self.tty:
            from rich.table import Table  # on a terminal only (see console)

            table = Table(title=title, show_header=header)
            for i, column in enumerate(columns):
                table.add_column(column, justify="right" if i in right else "left")
            for row in rows:
                table.add_row(*row)
            self.console.print(table)
            return
        shown = [columns, *rows] if header else rows
        widths = [max(len(row[i]) for row in shown) for i in range(len(columns))]

        def line(row):
            cells = (v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
            return "  " + "  ".join(cells).rstrip()

        self.stdout.write("\n".join([title, *(line(row) for row in shown)]))

    def say(self, text: str) -> None:
        if self.tty:
            self.console.print(text)
        else:
            self.stdout.write(text)

    def progress(self):
        if not self.interactive:
            return None, None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # terminal

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return bar, update

    def scan(self, repository: CodeRepository, options) -> None:
        scan = scan_create(
            repository=repository, trigger=CodeScan.Trigger.COMMAND, with_pylint=options["pylint"] or None
        )
        bar, update = self.progress()
        if bar:
            with bar:
                scan = scan_run(scan=scan, workers=options["workers"], progress=update)
        else:
            scan = scan_run(scan=scan, workers=options["workers"])
        if scan.status != CodeScan.Status.SUCCEEDED:
            raise CommandError(f"scan failed: {scan.error}", returncode=CANNOT_RUN)
        if options["json"]:
            self.stdout.write(json.dumps(scan_summary(scan), indent=2))
        else:
            self.print_scan(scan)
        if scan.gate == CodeScan.Gate.FAILED:
            raise SystemExit(GATE_FAILED)

    def print_scan(self, scan: CodeScan) -> None:
        title = f"{scan.repository.name} — scan #{scan.pk}"
        self.table(title, ("metric", "value"), summary_rows(scan), header=False, right=(1,))
        worst = (
            DebtItem.objects.filter(repository=scan.repository, status=DebtItem.Status.OPEN, first_seen_scan=scan)
            .order_by("-remediation_minutes")[:10]
            .values_list("severity", "kind", "path", "line", "message")
        )
        if scan.new_debt and worst:
            rows = [(severity, kind, f"{path}:{line}", message[:80]) for severity, kind, path, line, message in worst]
            self.table("New debt (top 10)", ("severity", "kind", "where", "message"), rows)
        verdict = "PASSED" if scan.gate == CodeScan.Gate.PASSED else "FAILED"
        self.say(f"Quality gate: {verdict}")
        for reason in scan.gate_reasons[1:]:
            self.say(f"  - {reason}")

    def history(self, repository: CodeRepository, options) -> None:
        if options["commits"] < 1:
            raise CommandError("--commits must be at least 1", returncode=CANNOT_RUN)
        bar, update = self.progress()
        try:
            if bar:
                with bar:
                    scans = history_run(
                        repository=repository, commits=options["commits"], workers=options["workers"], progress=update
                    )
            else:
                scans = history_run(repository=repository, commits=options["commits"], workers=options["workers"])
        except ScanError as exc:
            raise CommandError(str(exc), returncode=CANNOT_RUN) from exc
        if options["json"]:
            self.stdout.write(json.dumps([scan_summary(s) for s in scans], indent=2))
            return
        rows = [
            (
                s.commit[:10],
                s.committed_at.strftime("%Y-%m-%d %H:%M") if s.committed_at else "",
                str(s.files),
                str(s.sloc),
                _fmt(s.average_complexity),
                str(s.worst_complexity),
                _fmt(s.average_mi),
                str(s.debt_count),
                s.status if s.status == CodeScan.Status.SUCCEEDED else f"{s.status}: {s.error}",
            )
            for s in scans
        ]
        columns = ("commit", "date", "files", "sloc", "avg CC", "worst CC", "avg MI", "debt", "status")
        self.table(f"{repository.name} — last {len(scans)} commits", columns, rows)
        if any(s.status != CodeScan.Status.SUCCEEDED for s in scans):
            raise CommandError("some commits could not be scanned", returncode=CANNOT_RUN)


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_rows(scan: CodeScan) -> list[tuple[str, str]]:
    return [
        (
            "files",
            f"{scan.files} ({scan.files_analyzed} analysed, {scan.files_reused} reused, {scan.files_failed} failed)",
        ),
        ("functions", str(scan.functions)),
        ("lines (loc / sloc)", f"{scan.loc} / {scan.sloc}"),
        ("average complexity", _fmt(scan.average_complexity)),
        ("worst complexity", str(scan.worst_complexity)),
        ("average cognitive", _fmt(scan.average_cognitive)),
        ("average MI", _fmt(scan.average_mi)),
        ("open debt", f"{scan.debt_count} items, {scan.debt_minutes} min"),
        ("new / fixed debt", f"{scan.new_debt} / {scan.fixed_debt}"),
        ("pylint score", _fmt(scan.pylint_score) if not scan.pylint_error else f"error: {scan.pylint_error}"),
        ("time", f"{scan.duration:.2f} s" if scan.duration is not None else "-"),
    ]


def scan_summary(scan: CodeScan) -> dict:
    return {
        "scan": scan.pk,
        "repository": scan.repository.name,
        "commit": scan.commit,
        "committed_at": scan.committed_at.isoformat() if scan.committed_at else None,
        "status": scan.status,
        "files": scan.files,
        "files_analyzed": scan.files_analyzed,
        "files_reused": scan.files_reused,
        "files_failed": scan.files_failed,
        "functions": scan.functions,
        "loc": scan.loc,
        "sloc": scan.sloc,
        "average_complexity": scan.average_complexity,
        "worst_complexity": scan.worst_complexity,
        "average_cognitive": scan.average_cognitive,
        "average_mi": scan.average_mi,
        "debt_count": scan.debt_count,
        "debt_minutes": scan.debt_minutes,
        "new_debt": scan.new_debt,
        "fixed_debt": scan.fixed_debt,
        "pylint_score": scan.pylint_score,
        "pylint_error": scan.pylint_error,
        "gate": scan.gate,
        "gate_reasons": scan.gate_reasons,
        "seconds": scan.duration,
    }
