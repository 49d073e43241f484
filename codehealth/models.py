"""Models of the codehealth app.

A `FileMetrics` row is one *version* of a file (repository, path, content hash, analysis key):
scans share unchanged versions through `ScanFile` instead of copying them, which is what makes
a re-scan cheap. A re-scan that finds the tree exactly as an earlier scan left it stores no links
at all: it points at that scan (`CodeScan.same_as`), whose files, functions and findings are its
own. `DebtItem` is one piece of debt tracked across live scans by its fingerprint.
"""

import hashlib

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from codehealth.analyzer import debt
from codehealth.analyzer.debt import SEVERITY_RANK as SEVERITY_RANK  # filters, views, debt tracking rank by it
from codehealth.analyzer.debt import Thresholds
from codehealth.analyzer.gate import GateRules
from codehealth.roots import validate_repository_path


class Severity(models.TextChoices):
    LOW = debt.LOW
    MEDIUM = debt.MEDIUM
    HIGH = debt.HIGH
    CRITICAL = debt.CRITICAL


# Linux's limit for a path handed to the kernel, in bytes (so at most as many characters).
PATH_MAX = 4096
# next_scan_at = now + interval: a huge interval would overflow the date and stop the sweep.
MAX_SCAN_EVERY_HOURS = 24 * 366


class DebtKind(models.TextChoices):
    TODO = "todo", "TODO marker"
    FIXME = "fixme", "FIXME marker"
    HACK = "hack", "HACK marker"
    XXX = "xxx", "XXX marker"
    TEMP = "temp", "TEMP marker"
    NOTE = "note", "NOTE marker"
    LONG_FUNCTION = "long_function", "Long function"
    LARGE_CLASS = "large_class", "Large class"
    COMPLEX_FUNCTION = "complex_function", "Complex function (cyclomatic)"
    COGNITIVE_COMPLEXITY = "cognitive_complexity", "High cognitive complexity"
    DEEP_NESTING = "deep_nesting", "Deep nesting"
    TOO_MANY_PARAMETERS = "too_many_parameters", "Too many parameters"
    LOW_MAINTAINABILITY = "low_maintainability", "Low maintainability index"
    PYLINT = "pylint", "pylint message"


def path_digest(path: str) -> str:
    return hashlib.sha1(path.encode(errors="surrogateescape"), usedforsecurity=False).hexdigest()


class QualityGate(models.Model):
    """Conditions a scan must meet. Empty fields are conditions not applied."""

    name = models.CharField(max_length=100, unique=True)
    max_new_debt = models.PositiveIntegerField(
        null=True, blank=True, default=0, help_text="Most new debt items at or above the severity below."
    )
    new_debt_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.HIGH)
    min_average_mi = models.FloatField(null=True, blank=True, help_text="Smallest average maintainability index.")
    max_function_complexity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Largest cyclomatic complexity of any function."
    )
    min_pylint_score = models.FloatField(null=True, blank=True, help_text="Applied to scans that ran pylint.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def rules(self) -> GateRules:
        return GateRules(
            max_new_debt=self.max_new_debt,
            new_debt_severity=self.new_debt_severity,
            min_average_mi=self.min_average_mi,
            max_function_complexity=self.max_function_complexity,
            min_pylint_score=self.min_pylint_score,
        )


class CodeRepository(models.Model):
    name = models.CharField(max_length=100, unique=True)
    path = models.CharField(
        max_length=PATH_MAX,
        validators=[validate_repository_path],
        help_text="Directory on the portal's machine, inside CODEHEALTH_ALLOWED_ROOTS.",
    )
    excludes = models.JSONField(
        default=list, blank=True, help_text='Extra exclude globs, e.g. ["tests", "*/generated/*"].'
    )
    use_default_excludes = models.BooleanField(
        default=True, help_text="Skip virtualenvs, build dirs, caches and numbered migrations."
    )
    thresholds = models.JSONField(
        default=dict, blank=True, help_text='Overrides of the debt thresholds, e.g. {"complexity": 15}.'
    )
    pylint_enabled = models.BooleanField(default=False)
    gate = models.ForeignKey(
        QualityGate, null=True, blank=True, on_delete=models.SET_NULL, help_text="Empty: the gate named 'default'."
    )
    scan_every_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: scans are manual only.")
    # Whose request figures weigh the modules in reporting's hotspots (reporting/hotspots.py).
    service = models.ForeignKey(
        "portal.Service",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repositories",
        help_text="The service running this code: its request figures weigh the hotspots.",
    )
    # Due-at column for the periodic sweep (claimed with a conditional UPDATE).
    next_scan_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "code repositories"
        indexes = [
            models.Index(fields=["next_scan_at"], name="codehealth_repo_due", condition=Q(next_scan_at__isnull=False))
        ]
        permissions = [("scan_coderepository", "Can start a code scan")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The due-at column follows the interval: due at once when scheduling starts, cleared when it stops.
        if not self.scan_every_hours:
            self.next_scan_at = None
        elif self.next_scan_at is None:
            self.next_scan_at = timezone.now()
        super().save(*args, **kwargs)

    def clean(self):
        errors = {}
        try:
            Thresholds.from_mapping(self.thresholds)
        except (ValueError, TypeError, AttributeError) as exc:
            errors["thresholds"] = str(exc)
        if not isinstance(self.excludes, list) or not all(isinstance(p, str) for p in self.excludes):
            errors["excludes"] = 'A list of glob strings, e.g. ["tests", "*/generated/*"].'
        if self.scan_every_hours and self.scan_every_hours > MAX_SCAN_EVERY_HOURS:
            errors["scan_every_hours"] = f"At most {MAX_SCAN_EVERY_HOURS} hours (a year)."
        if errors:
            raise ValidationError(errors)


class CodeScan(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        COMMAND = "command"
        API = "api"
        ADMIN = "admin"
        SCHEDULE = "schedule"
        HISTORY = "history"

    class Gate(models.TextChoices):
        NONE = "none", "not evaluated"
        PASSED = "passed"
        FAILED = "failed"

    repository = models.ForeignKey(CodeRepository, on_delete=models.CASCADE, related_name="scans")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.COMMAND)
    with_pylint = models.BooleanField(default=False)
    commit = models.CharField(max_length=40, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    files = models.PositiveIntegerField(default=0)
    files_analyzed = models.PositiveIntegerField(default=0)
    files_reused = models.PositiveIntegerField(default=0)
    files_failed = models.PositiveIntegerField(default=0)
    functions = models.PositiveIntegerField(default=0)
    loc = models.PositiveIntegerField(default=0)
    sloc = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    average_complexity = models.FloatField(null=True, blank=True)
    worst_complexity = models.PositiveIntegerField(default=0)
    average_cognitive = models.FloatField(null=True, blank=True)
    average_mi = models.FloatField(null=True, blank=True)
    debt_count = models.PositiveIntegerField(default=0)
    debt_minutes = models.PositiveIntegerField(default=0)
    new_debt = models.PositiveIntegerField(default=0)
    fixed_debt = models.PositiveIntegerField(default=0)
    pylint_score = models.FloatField(null=True, blank=True)
    pylint_error = models.TextField(blank=True)
    gate = models.CharField(max_length=10, choices=Gate.choices, default=Gate.NONE)
    gate_reasons = models.JSONField(default=list, blank=True)

    file_versions = models.ManyToManyField("FileMetrics", through="ScanFile", related_name="scans")
    # Set (only on success) when this live scan found every file exactly as that scan did, stat
    # included, and took its results over: it stores no file links and marks no debt item seen;
    # both are derived through this column (files_scan_id, DebtItemQuerySet.with_last_seen).
    same_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.CASCADE,  # without that scan this one has no files
        related_name="+",
        help_text="The earlier scan whose files and findings this unchanged re-scan took over.",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["repository", "status", "-id"], name="codehealth_scan_repo")]

    def __str__(self):
        return f"{self.repository} scan #{self.pk}"

    @property
    def files_scan_id(self) -> int:
        """The scan whose ScanFile links list this scan's files."""
        return self.same_as_id or self.pk

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class FileMetrics(models.Model):
    repository = models.ForeignKey(CodeRepository, on_delete=models.CASCADE, related_name="file_versions")
    # Relative paths have no length limit worth setting (git trees have none); uniqueness goes
    # through path_hash, since PostgreSQL cannot index a value over ~2,700 bytes.
    path = models.TextField()
    path_hash = models.CharField(max_length=40, editable=False)
    content_hash = models.CharField(max_length=40)
    # Hash of the thresholds and analyzer version the findings were computed with.
    analysis_key = models.CharField(max_length=16)
    first_scan = models.ForeignKey(CodeScan, null=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, help_text="Why the file could not be analysed.")
    loc = models.PositiveIntegerField(default=0)
    lloc = models.PositiveIntegerField(default=0)
    sloc = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    multi = models.PositiveIntegerField(default=0)
    blank = models.PositiveIntegerField(default=0)
    single_comments = models.PositiveIntegerField(default=0)
    complexity = models.PositiveIntegerField(default=0, help_text="radon's total complexity of the module")
    complexity_sum = models.PositiveIntegerField(default=0, help_text="sum over functions and methods")
    worst_complexity = models.PositiveIntegerField(default=0)
    cognitive = models.PositiveIntegerField(default=0, help_text="sum over functions and methods")
    worst_cognitive = models.PositiveIntegerField(default=0)
    mi = models.FloatField(null=True, blank=True)
    mi_rank = models.CharField(max_length=1, blank=True)
    halstead_volume = models.FloatField(default=0)
    halstead_difficulty = models.FloatField(default=0)
    halstead_effort = models.FloatField(default=0)
    function_count = models.PositiveIntegerField(default=0)
    class_count = models.PositiveIntegerField(default=0)
    debt_count = models.PositiveIntegerField(default=0)
    # Dotted names the file imports (codehealth/analyzer/imports.py); the module graph is built from these.
    imports = models.JSONField(default=list, blank=True)
    debt_minutes = models.PositiveIntegerField(default=0)
    # Findings of this version (without pylint), so a reused file needs no re-analysis.
    findings = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "file metrics"
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "path_hash", "content_hash", "analysis_key"], name="codehealth_file_version_hash"
            )
        ]
        indexes = [models.Index(fields=["repository", "content_hash"], name="codehealth_file_hash")]

    def __str__(self):
        return self.path

    def save(self, *args, **kwargs):
        self.path_hash = path_digest(self.path)
        super().save(*args, **kwargs)

    @property
    def average_complexity(self):
        return self.complexity_sum / self.function_count if self.function_count else None


class ScanFile(models.Model):
    scan = models.ForeignKey(CodeScan, on_delete=models.CASCADE, related_name="scan_files")
    file = models.ForeignKey(FileMetrics, on_delete=models.CASCADE, related_name="scan_files")
    reused = models.BooleanField(default=False)
    # Size, mtime, ctime and inode when the scan read the file ("" when too fresh to trust, and for
    # history scans): the next scan skips reading a file whose stat is still the same.
    stat = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scan", "file"], name="codehealth_scan_file")]

    def __str__(self):
        return f"{self.scan_id}:{self.file_id}"


class FunctionMetrics(models.Model):
    class Kind(models.TextChoices):
        FUNCTION = "function"
        METHOD = "method"
        CLASS = "class"

    file = models.ForeignKey(FileMetrics, on_delete=models.CASCADE, related_name="blocks")
    qualname = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    line = models.PositiveIntegerField()
    end_line = models.PositiveIntegerField()
    length = models.PositiveIntegerField()
    complexity = models.PositiveIntegerField()
    rank = models.CharField(max_length=1)
    cognitive = models.PositiveIntegerField(default=0)
    max_nesting = models.PositiveIntegerField(default=0)
    parameters = models.PositiveIntegerField(default=0)
    methods = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["file_id", "line"]
        verbose_name_plural = "function metrics"
        indexes = [models.Index(fields=["file", "-complexity"], name="codehealth_fn_cc")]

    def __str__(self):
        return self.qualname


class DebtItemQuerySet(models.QuerySet):
    def with_last_seen(self):
        """Annotate `last_seen`: the id of the last scan that saw the item. `last_seen_scan` is
        the last scan that compared it; unchanged re-scans after that one (same_as it) saw it too,
        except pylint items, which only scans running pylint see (and those never reuse)."""
        reused = CodeScan.objects.filter(same_as=OuterRef("last_seen_scan")).order_by("-id").values("id")[:1]
        return self.annotate(
            last_seen=Case(
                When(kind=DebtKind.PYLINT, then=F("last_seen_scan")),
                default=Coalesce(Subquery(reused), F("last_seen_scan")),
                output_field=models.IntegerField(),
            )
        )


class DebtItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        FIXED = "fixed"

    repository = models.ForeignKey(CodeRepository, on_delete=models.CASCADE, related_name="debt_items")
    fingerprint = models.CharField(max_length=40)
    kind = models.CharField(max_length=24, choices=DebtKind.choices)
    rule = models.CharField(max_length=20, blank=True, help_text="Marker word or pylint message id.")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    path = models.TextField()
    line = models.PositiveIntegerField()
    symbol = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    remediation_minutes = models.PositiveIntegerField()
    first_seen_scan = models.ForeignKey(CodeScan, on_delete=models.CASCADE, related_name="+")
    # The last scan that compared the item with its findings; unchanged re-scans since then saw
    # it too without writing here (DebtItemQuerySet.with_last_seen derives the last one).
    last_seen_scan = models.ForeignKey(CodeScan, on_delete=models.CASCADE, related_name="+")
    fixed_in_scan = models.ForeignKey(CodeScan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = DebtItemQuerySet.as_manager()

    class Meta:
        ordering = ["path", "line"]
        constraints = [models.UniqueConstraint(fields=["repository", "fingerprint"], name="codehealth_debt_fp")]
        indexes = [models.Index(fields=["repository", "status", "severity"], name="codehealth_debt_open")]

    def __str__(self):
        return f"{self.kind} {self.path}:{self.line}"

    @property
    def task_ref(self) -> str:
        """The reference the maintenance hand-off knows this item by (unique across repositories)."""
        return f"{self.repository_id}:{self.fingerprint}"


def latest_scan(repository) -> CodeScan | None:
    """The repository's latest successful live scan (a history scan only when there is none)."""
    return (
        CodeScan.objects.filter(repository=repository, status=CodeScan.Status.SUCCEEDED)
        .exclude(trigger=CodeScan.Trigger.HISTORY)
        .order_by("-id")
        .first()
    ) or CodeScan.objects.filter(repository=repository, status=CodeScan.Status.SUCCEEDED).order_by("-id").first()
