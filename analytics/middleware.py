"""Sets the tracker's session and user for the duration of each request (sync and async stacks).

The session id recorded is a keyed hash of Django's session key, never the key itself: the key
is a bearer secret, and usage events are readable by every viewer. The user id is the user's
primary key as an opaque string ("" for anonymous visitors). Django gives a session a new key
at login, so a visit's events before and after logging in fall into two sessions.

Placed after SessionMiddleware and AuthenticationMiddleware. The user comes from the session
(the id Django's login stored there, the same value as `str(request.user.pk)`), which costs at
most the session load the page's own `request.user` does anyway, and no user query. A request
without a session cookie (API calls with a key) costs no query; when the database is down the
ids are left empty and the view answers as it would without this middleware.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth import SESSION_KEY
from django.db import DatabaseError
from django.utils.crypto import salted_hmac

from analytics.tracker import MAX_SESSION_ID, set_context

SALT = "analytics.middleware.session"


def session_hash(session_key: str | None) -> str:
    if not session_key:
        return ""
    return salted_hmac(SALT, session_key, algorithm="sha256").hexdigest()[:MAX_SESSION_ID]


def _ids(request) -> tuple[str, str]:
    session = getattr(request, "session", None)
    if session is None or not session.session_key:  # no cookie: nothing to load
        return "", ""
    try:
        user_id = session.get(SESSION_KEY)
    except DatabaseError:
        return "", ""
    return session_hash(session.session_key), str(user_id or "")


async def _aids(request) -> tuple[str, str]:
    session = getattr(request, "session", None)
    if session is None or not session.session_key:
        return "", ""
    try:
        user_id = await session.aget(SESSION_KEY)
    except DatabaseError:
        return "", ""
    return session_hash(session.session_key), str(user_id or "")


class UsageContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        session_id, user_id = _ids(request)
        with set_context(session_id=session_id, user_id=user_id):
            return self.get_response(request)

    async def _acall(self, request):
        session_id, user_id = await _aids(request)
        with set_context(session_id=session_id, user_id=user_id):
            return await self.get_response(request)
