"""Login throttling with django-axes: the login form, the admin login and the API token exchange
all call authenticate() with the request, which is where axes counts failures and refuses a
locked-out username + address (settings AXES_*, README configuration table)."""

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render


class LockoutBackend(AxesStandaloneBackend):
    """axes' check, first in AUTHENTICATION_BACKENDS. authenticate() without a request (a shell,
    a management command, the test client's login()) is not a login over the network: it is
    left to the next backend instead of raising, as axes would."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: a 429 with Retry-After; JSON for the API, a page for people."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    wait = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}." if minutes else "Ask an admin to unlock it."
    message = f"Too many failed logins for this username from your address. {wait}"
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "portal/locked_out.html", {"message": message}, status=429)
    if cool_off:
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
