"""A run's log, bounded: the first and the last lines are kept, the middle is cut.

The head says what the run set out to do and the tail says how it ended; a package manager that
prints a megabyte in between must not fill the database. Framework-free and thread-safe (the
runner's heartbeat thread saves `text()` while the executor appends).
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime

HEAD_CHARS = 16_000
TAIL_CHARS = 48_000  # head + tail = MaintenanceRun's LOG_MAX_CHARS
LINE_CHARS = 8_000  # one line longer than this is cut on its own


class RunLog:
    def __init__(self, initial: str = "", *, head_chars: int = HEAD_CHARS, tail_chars: int = TAIL_CHARS, echo=None):
        self._echo = echo  # also hears each new line (a terminal following the run)
        self._lock = threading.Lock()
        self._head_chars, self._tail_chars = head_chars, tail_chars
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self._cut_chars = 0
        self.changed = False
        for line in initial.splitlines():
            self._add(line)
        self.changed = False

    def __call__(self, line: str) -> None:
        """Append one (or several, newline-separated) lines, stamped with the UTC time."""
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        for part in str(line).splitlines() or [""]:
            self._add(f"{stamp} {part}")
            if self._echo is not None:
                self._echo(f"{stamp} {part}")

    def _add(self, line: str) -> None:
        if len(line) > LINE_CHARS:
            line = line[:LINE_CHARS] + f" … [{len(line) - LINE_CHARS} characters cut]"
        size = len(line) + 1
        with self._lock:
            self.changed = True
            if not self._tail and self._head_size + size <= self._head_chars:
                self._head.append(line)
                self._head_size += size
                return
            self._tail.append(line)
            self._tail_size += size
            while self._tail_size > self._tail_chars and len(self._tail) > 1:
                dropped = self._tail.popleft()
                self._tail_size -= len(dropped) + 1
                self._cut_chars += len(dropped) + 1

    def text(self) -> str:
        with self._lock:
            parts = list(self._head)
            if self._cut_chars:
                parts.append(f"… [{self._cut_chars} characters of log cut here] …")
            parts.extend(self._tail)
            return "\n".join(parts)
