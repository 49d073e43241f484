"""What every maintenance executor is: a kind, a validated config, `plan()` and `apply()`.

The runner (maintenance/runner.py) owns runs: it claims the run, builds the `RunContext`, calls
`plan()` and, when the plan may go ahead (no approval needed, or approved), `apply()`, and
stores what they return. Executors never touch `MaintenanceRun` rows themselves, so each one can
be tested against a real environment without a run in the database.

Rules every executor keeps (the portal may run them against production):
- `plan()` has no side effects: it only reads (and may run read-only subprocesses).
- every subprocess is an argument list (never a shell string) with a timeout no later than
  `ctx.deadline`, and its output goes to `ctx.log` (see `run_logged`).
- `apply()` leaves the environment as it found it when it fails (or says `partial` and what changed).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import ClassVar

# The executor modules, imported the first time the registry is read (not at start-up: they
# bring DRF serializers, httpx, numpy through monitoring's queries, and every management command
# — `codehealth scan` in CI included — would pay for them).
EXECUTOR_MODULES = ("cleanup", "dependency_update", "scaling_check", "security_audit")


@dataclass(frozen=True)
class Target:
    """The environment an executor acts on, as plain values (read from `Environment`)."""

    name: str
    python: str  # absolute path of the interpreter, e.g. a venv's bin/python
    project_dir: str  # absolute path
    package_manager: str  # "pip" or "poetry"
    cleanup_roots: tuple[str, ...] = ()  # absolute directories cleanup may touch
    verify_command: tuple[str, ...] = ()  # argument list run in project_dir after a change
    service_id: int | None = None  # portal.Service the environment runs as (health, metrics)
    repository_id: int | None = None  # codehealth.Repository with its source (reachability)
    health_check_ids: tuple[int, ...] = ()  # checks that must stay healthy after a change
    env_id: int | None = None  # maintenance.Environment primary key


@dataclass
class RunContext:
    target: Target
    config: dict  # validated by the executor's Config serializer
    log: Callable[[str], None]  # appends a line to the run's bounded log
    deadline: float  # time.monotonic() value the whole run must finish by
    run_id: int | None = None  # for alerts and links; None when run outside the database

    def remaining(self, cap: float | None = None) -> float:
        """Seconds left before the deadline (at least 1), optionally capped."""
        left = max(1.0, self.deadline - time.monotonic())
        return min(left, cap) if cap is not None else left


@dataclass
class Plan:
    summary: str
    # JSON-able description of what apply() would do, e.g. [{"name": "x", "from": "1.0", "to": "1.1"}].
    items: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.items


# Outcome statuses are MaintenanceRun statuses.
SUCCEEDED, FAILED, PARTIAL, ROLLED_BACK = "succeeded", "failed", "partial", "rolled_back"


@dataclass
class Outcome:
    status: str  # SUCCEEDED, FAILED, PARTIAL or ROLLED_BACK
    summary: str
    # Structured changes, JSON-able; reporting reads these keys (all optional):
    #   packages: [{"name", "from", "to"}]
    #   vulnerabilities: [{"id", "aliases", "package", "version", "summary", "fix_versions", "reachable"}]
    #   incomplete: [{"package", "reason"}]      (an audit that could not check everything)
    #   files_removed: int, bytes_freed: int, removed: [path, ...] (bounded)
    #   recommendations: [{"action", "reason", "figures"}]
    changes: dict = field(default_factory=dict)


class Executor:
    kind: ClassVar[str]
    label: ClassVar[str]
    # A DRF Serializer class declaring the config fields; its errors name the field.
    Config: ClassVar[type]

    def plan(self, ctx: RunContext) -> Plan:
        raise NotImplementedError

    def apply(self, ctx: RunContext, plan: Plan) -> Outcome:
        raise NotImplementedError


class _Registry(dict):
    """kind → executor class; reading it first imports the executor modules (which register)."""

    _loaded = False

    def _load(self) -> None:
        if _Registry._loaded:
            return
        _Registry._loaded = True
        for name in EXECUTOR_MODULES:
            try:
                import_module(f"maintenance.executors.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"maintenance.executors.{name}":
                    raise

    def __getitem__(self, kind):
        self._load()
        return super().__getitem__(kind)

    def __contains__(self, kind):
        self._load()
        return super().__contains__(kind)

    def get(self, kind, default=None):
        self._load()
        return super().get(kind, default)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __len__(self):
        self._load()
        return super().__len__()

    def keys(self):
        self._load()
        return super().keys()

    def items(self):
        self._load()
        return super().items()

    def values(self):
        self._load()
        return super().values()


REGISTRY: dict[str, type[Executor]] = _Registry()


def register(cls: type[Executor]) -> type[Executor]:
    if dict.__contains__(REGISTRY, cls.kind):
        raise ValueError(f"executor for {cls.kind!r} registered twice")
    dict.__setitem__(REGISTRY, cls.kind, cls)
    return cls


def executor_for(kind: str) -> Executor:
    return REGISTRY[kind]()


def config_validate(kind: str, config: dict | None) -> dict:
    """The config of a task of `kind`, validated; raises serializers.ValidationError naming fields."""
    serializer = REGISTRY[kind].Config(data=config or {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CommandFailed(Exception):
    def __init__(self, args: list[str], returncode: int | None, output: str):
        what = "timed out" if returncode is None else f"exited with {returncode}"
        super().__init__(f"{args[0]} {what}")
        self.returncode = returncode
        self.output = output


def run_logged(
    ctx: RunContext,
    args: list[str],
    *,
    cwd: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run one command (argument list, no shell) with a timeout within the run's deadline; its
    output goes to the run log. Raises CommandFailed on timeout, or on a non-zero exit with `check`."""
    ctx.log("$ " + " ".join(args))
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=ctx.remaining(timeout), check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        ctx.log(output[-4000:])
        raise CommandFailed(args, None, output) from exc
    output = (done.stdout or "") + (done.stderr or "")
    if output.strip():
        ctx.log(output.rstrip()[-4000:])
    if check and done.returncode != 0:
        raise CommandFailed(args, done.returncode, output)
    return done
