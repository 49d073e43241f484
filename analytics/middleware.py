"""Sets the tracker's session and user for the duration of each request (sync and async stacks).

The session id recorded is a keyed hash of Django's session key, never the key itself: the key
is a bearer secret, and usage events are readable by every viewer. The user id is the user's
primary key as an opaque string ("" for anonymous visitors). Django gives a session a new key
at login, so a visit's events before and after logging in fall into two sessions.

Placed after AuthenticationMiddleware. Reading `request.user` loads the session and the user
once per request; the views that track features read them anyway, and a request without a
session cookie (API calls with a service key) costs no query.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.crypto import salted_hmac

from analytics.tracker import MAX_SESSION_ID, set_context

SALT = "analytics.middleware.session"


def session_hash(session_key: str | None) -> str:
    if not session_key:
        return ""
    return salted_hmac(SALT, session_key, algorithm="sha256").hexdigest()[:MAX_SESSION_ID]


def _session_id(request) -> str:
    session = getattr(request, "session", None)
    return session_hash(session.session_key) if session is not None else ""


def _user_id(user) -> str:
    return str(user.pk) if user is not None and user.is_authenticated else ""


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
        with set_context(session_id=_session_id(request), user_id=_user_id(getattr(request, "user", None))):
            return self.get_response(request)

    async def _acall(self, request):
        # request.user would query the database from the event loop; auser() does it off it.
        user = await request.auser() if hasattr(request, "auser") else None
        with set_context(session_id=_session_id(request), user_id=_user_id(user)):
            return await self.get_response(request)
