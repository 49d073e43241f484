"""`manage.py bench import FILE [--branch B --commit C]` and `manage.py bench compare`.

`compare` exits 1 when a run is a regression against its baseline, so CI can fail on it."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

MAX_FILE_BYTES = 50 * 1024 * 1024


class Command(BaseCommand):
    help = "Import benchmark runs (pytest-benchmark JSON or plain JSON) and compare them with their baseline."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Import a pytest-benchmark --benchmark-json file (or plain JSON).")
        imp.add_argument("file", help="Path of the JSON file, or - for standard input.")
        imp.add_argument("--branch", default=None, help="Branch of the run (wins over the file's).")
        imp.add_argument("--commit", default=None, help="Commit of the run (wins over the file's).")
        imp.add_argument("--alert", action="store_true", help="Raise an alert for each regression.")
        cmp = sub.add_parser("compare", help="Compare the latest runs with their baseline; exit 1 on a regression.")
        cmp.add_argument("--branch", default=None, help="Only the latest runs on this branch.")
        cmp.add_argument("--commit", default=None, help="Only the runs of this commit.")
        cmp.add_argument("--alert", action="store_true", help="Raise an alert for each regression.")
        cmp.add_argument("file", nargs="?", default=None, help="Import this file first, then compare its runs.")

    def handle(self, *args, action, **options):
        from reporting.benchmarks.runs import PayloadError

        try:
            if action == "import":
                runs = self._import(options["file"], options["branch"], options["commit"])
                self._print(runs)
                self._alert(runs, options["alert"])
                return
            runs = self._compare(options)
            self._alert(runs, options["alert"])
        except PayloadError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        regressions = self._print(runs)
        if regressions:
            self.stderr.write(f"{regressions} regression(s).")
            sys.exit(1)

    def _alert(self, runs, wanted: bool) -> None:
        if wanted:
            from reporting.benchmarks.alerts import runs_alert

            runs_alert(runs=runs)

    def _import(self, file, branch, commit):
        from reporting.benchmarks.runs import runs_import

        if file == "-":
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"file: {file} is not a file.")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"file: at most {MAX_FILE_BYTES // (1024 * 1024)} MB.")
            text = path.read_text(encoding="utf-8")
        if len(text) > MAX_FILE_BYTES:
            raise CommandError(f"file: at most {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"file: not JSON ({exc}).") from exc
        return runs_import(data=data, branch=branch, commit=commit)

    def _compare(self, options):
        from reporting.benchmarks.models import BenchmarkRun
        from reporting.benchmarks.runs import run_compare

        if options["file"]:
            runs = self._import(options["file"], options["branch"], options["commit"])
        else:
            latest = BenchmarkRun.objects.select_related("benchmark", "benchmark__baseline")
            if options["branch"]:
                latest = latest.filter(branch=options["branch"])
            if options["commit"]:
                latest = latest.filter(commit=options["commit"])
            seen, runs = set(), []
            for run in latest.order_by("benchmark_id", "-ran_at", "-id"):
                if run.benchmark_id not in seen:
                    seen.add(run.benchmark_id)
                    runs.append(run)
        for run in runs:
            # Compared again: a baseline may have been pinned since the run arrived.
            result = run_compare(run)
            run.verdict = result.verdict if result else BenchmarkRun.Verdict.NO_BASELINE
            run.change_percent = result.change_percent if result else None
            run.save(update_fields=["verdict", "change_percent"])
        return runs

    def _print(self, runs) -> int:
        regressions = 0
        for run in runs:
            change = "" if run.change_percent is None else f" {run.change_percent:+.1f}%"
            median = "-" if run.median is None else f"{run.median:.6g} {run.benchmark.unit}"
            self.stdout.write(f"{run.benchmark}: median {median}, {run.get_verdict_display()}{change}")
            regressions += run.verdict == run.Verdict.REGRESSION
        return regressions
