"""Sessions from a stream of usage events (framework-free: imports nothing from Django).

The stream is what the database hands out in index order (service, session_id, time): events of
one session id arrive together and in time order; events without a session id (an empty string
sorts first) arrive in time order and are grouped per user. A gap longer than the inactivity
timeout starts a new session, so one session id may become several sessions (PostHog does the
same after 30 minutes of inactivity).

Only open sessions are held: one for the session id being read, and one per user active within
the timeout among events without a session id. Everything else is counted and forgotten.
"""

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_TIMEOUT = 1800.0  # seconds of inactivity that end a session
MAX_TIMEOUT = 86_400.0
# A session longer than this (a script, a stuck client) is cut into pieces: per-session state stays
# bounded whatever one client sends.
MAX_SESSION_STEPS = 10_000


@dataclass(slots=True)
class Session:
    key: str  # the session id, or "user:<id>" for events sent without one
    user: str  # the first user id seen in it ("" if none)
    names: list[str] = field(default_factory=list)  # steps in order
    starts: list[float] = field(default_factory=list)  # epoch seconds of each step's first event
    ends: list[float] = field(default_factory=list)  # ... and last event (differ when repeats collapse)

    @property
    def last(self) -> float:
        return self.ends[-1]


@dataclass(slots=True)
class SessionCounts:
    events: int = 0
    sessions: int = 0
    # Events with neither a session nor a user id: nothing ties them to others, so no path.
    unattributed: int = 0
    cut: int = 0  # sessions cut at MAX_SESSION_STEPS


def seconds(moment) -> float:
    """Epoch seconds of an aware datetime or a number."""
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


class OutOfOrder(ValueError):
    pass


def sessions_from(
    events: Iterable[tuple[str, str, object, str]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    collapse_repeats: bool = True,
    max_steps: int = MAX_SESSION_STEPS,
    counts: SessionCounts | None = None,
) -> Iterator[Session]:
    """Yield sessions from (session_id, user_id, time, name) tuples, each as it closes.

    With `collapse_repeats`, consecutive events of the same feature are one step (a feature used
    five times in a row is one step of a path, as in PostHog's paths), whose `ends` is the last of
    them, so "B within 30 s of A" measures from the last A."""
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT:g}] seconds")
    counts = counts if counts is not None else SessionCounts()
    current: Session | None = None
    current_id = None
    by_user: OrderedDict[str, Session] = OrderedDict()  # least recently active first
    user_clock = float("-inf")

    def close(session: Session) -> Session:
        counts.sessions += 1
        return session

    for session_id, user_id, moment, name in events:
        counts.events += 1
        t = moment if type(moment) is float else seconds(moment)
        if session_id:
            if current is not None and (session_id != current_id or t - current.last > timeout):
                yield close(current)
                current = None
            elif current is not None and t < current.last:
                raise OutOfOrder(f"session {session_id!r}: events must arrive in time order")
            if current is None:
                current, current_id = Session(key=session_id, user=user_id or ""), session_id
            elif not current.user and user_id:
                current.user = user_id
            if _step(current, name, t, collapse_repeats, max_steps):
                counts.cut += 1
                yield close(Session(key=current.key, user=current.user, names=current.names[:-1],
                                    starts=current.starts[:-1], ends=current.ends[:-1]))  # fmt: skip
                current = Session(key=current.key, user=current.user, names=[name], starts=[t], ends=[t])
            continue
        if not user_id:
            counts.unattributed += 1
            continue
        if t < user_clock:
            raise OutOfOrder("events without a session id must arrive in time order")
        user_clock = t
        # Close users idle past the timeout: they are the oldest entries of the ordered dict.
        while by_user:
            oldest = next(iter(by_user.values()))
            if t - oldest.last <= timeout:
                break
            yield close(by_user.popitem(last=False)[1])
        session = by_user.pop(user_id, None)
        if session is None:
            session = Session(key=f"user:{user_id}", user=user_id)
        if _step(session, name, t, collapse_repeats, max_steps):
            counts.cut += 1
            yield close(Session(key=session.key, user=session.user, names=session.names[:-1],
                                starts=session.starts[:-1], ends=session.ends[:-1]))  # fmt: skip
            session = Session(key=session.key, user=session.user, names=[name], starts=[t], ends=[t])
        by_user[user_id] = session  # re-inserted: now the most recently active
    for session in by_user.values():
        yield close(session)
    if current is not None:
        yield close(current)


def _step(session: Session, name: str, t: float, collapse: bool, max_steps: int) -> bool:
    """Add one event; True when the session just went past `max_steps` (the caller cuts it)."""
    if collapse and session.names and session.names[-1] == name:
        session.ends[-1] = t
        return False
    session.names.append(name)
    session.starts.append(t)
    session.ends.append(t)
    return len(session.names) > max_steps
