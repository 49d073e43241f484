"""Scaling advice from a service's recent figures. Framework-free: the executor reads the figures
from monitoring and hands them here.

Pressure is read the way people size machines: CPU and load per core are relieved by more
instances (scale out); memory and disk are per machine, relieved by a bigger one (scale up).
Scaling in or down needs every figure to be low — and all of them to be known: missing data
never leads to a smaller deployment. High latency with idle CPU is not a capacity problem, and
the advice says so instead of adding machines.
"""

from dataclasses import asdict, dataclass, field

SCALE_OUT, SCALE_UP, SCALE_IN, SCALE_DOWN, NOTHING = "scale_out", "scale_up", "scale_in", "scale_down", "none"


@dataclass(frozen=True)
class Thresholds:
    cpu_high: float = 80.0  # percent busy, average over the window
    cpu_low: float = 20.0
    memory_high: float = 85.0  # percent in use
    memory_low: float = 30.0
    disk_high: float = 90.0  # percent in use, the fullest mount
    load_per_core_high: float = 1.5  # load1 / cores
    p95_high_ms: float | None = None  # request latency; None: latency not judged
    cores: int = 1


@dataclass(frozen=True)
class Figures:
    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    load1: float | None = None
    p95_ms: float | None = None
    requests: int = 0
    samples: int = 0  # system samples behind the averages


@dataclass
class Advice:
    action: str
    reasons: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)  # further actions, e.g. scale up besides out
    figures: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "action": self.action, "reason": "; ".join(self.reasons), "also": self.also,
            "figures": self.figures, "thresholds": self.thresholds,
        }  # fmt: skip


def _fmt(value: float | None, unit: str) -> str:
    return "unknown" if value is None else f"{value:.1f}{unit}"


def recommend(figures: Figures, limits: Thresholds, *, min_samples: int = 3) -> Advice:
    load_per_core = None if figures.load1 is None else figures.load1 / max(1, limits.cores)
    shown = {**asdict(figures), "load_per_core": load_per_core}
    advice = Advice(action=NOTHING, figures=shown, thresholds=asdict(limits))
    if figures.samples < min_samples:
        advice.reasons.append(f"not enough data: {figures.samples} system samples in the window (need {min_samples})")
        return advice

    out, up = [], []
    if figures.cpu is not None and figures.cpu >= limits.cpu_high:
        out.append(f"CPU {_fmt(figures.cpu, '%')} ≥ {limits.cpu_high:g}%")
    if load_per_core is not None and load_per_core >= limits.load_per_core_high:
        out.append(f"load per core {load_per_core:.2f} ≥ {limits.load_per_core_high:g}")
    if figures.memory is not None and figures.memory >= limits.memory_high:
        up.append(f"memory {_fmt(figures.memory, '%')} ≥ {limits.memory_high:g}%")
    if figures.disk is not None and figures.disk >= limits.disk_high:
        up.append(f"disk {_fmt(figures.disk, '%')} ≥ {limits.disk_high:g}%")
    slow = limits.p95_high_ms is not None and figures.p95_ms is not None and figures.p95_ms >= limits.p95_high_ms
    if slow and out:
        out.append(f"p95 {figures.p95_ms:.0f} ms ≥ {limits.p95_high_ms:g} ms")
    if out or up:
        advice.action = SCALE_OUT if out else SCALE_UP
        advice.reasons = out + up
        if out and up:
            advice.also = [SCALE_UP]
        return advice
    if slow:
        advice.reasons.append(
            f"p95 {figures.p95_ms:.0f} ms ≥ {limits.p95_high_ms:g} ms but CPU {_fmt(figures.cpu, '%')} and load are "
            "low: more machines would not help; look at the database, locks or downstream calls"
        )
        return advice

    known = None not in (figures.cpu, figures.memory, load_per_core)
    cpu_idle = known and figures.cpu <= limits.cpu_low and load_per_core < limits.load_per_core_high / 3
    memory_idle = known and figures.memory <= limits.memory_low
    if cpu_idle:
        advice.action = SCALE_IN
        advice.reasons.append(f"CPU {_fmt(figures.cpu, '%')} ≤ {limits.cpu_low:g}%, load per core {load_per_core:.2f}")
        if memory_idle:
            advice.also = [SCALE_DOWN]
            advice.reasons.append(f"memory {_fmt(figures.memory, '%')} ≤ {limits.memory_low:g}%")
        return advice
    if memory_idle:
        advice.action = SCALE_DOWN
        advice.reasons.append(f"memory {_fmt(figures.memory, '%')} ≤ {limits.memory_low:g}%")
        return advice
    if not known:
        advice.reasons.append("some figures are unknown: no reason to scale in or down")
    else:
        advice.reasons.append("every figure is within its thresholds")
    return advice
