"""What error reports (the DEBUG 500 page and the error emails to ADMINS) may show.

`make run` starts with DEBUG on, so anyone who can trigger a 500 reads the technical page:
settings, request.META (under runserver that includes the process environment, hence
EMAIL_URL and DATABASE_URL) and frame variables. Django's filter hides settings by name only;
credentials also live inside URL-valued settings (REDIS_URL, CACHES, Q_CLUSTER, PORTAL_BASE_URL)
and environment values, so every string is also scrubbed of URL passwords and secret query
parameters, at any depth of dicts and lists.
"""

import re

from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

from portal.lib.masking import SUBSTITUTE, mask_credentials

__all__ = ["SUBSTITUTE", "PortalExceptionReporterFilter", "mask_credentials"]


class PortalExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        r"API|AUTH|TOKEN|KEY|SECRET|PASS|PWD|SIGNATURE|HTTP_COOKIE|DSN|CREDENTIAL|PRIVATE", flags=re.IGNORECASE
    )

    def is_active(self, request) -> bool:
        # Django trusts the DEBUG page to be seen by developers only and stops filtering POST data
        # and @sensitive_variables there; here DEBUG is the laptop default, seen by any viewer.
        return True

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)  # recurses through self for dicts and lists
        return _masked_text(cleansed)

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self._scrub(value)) for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def _scrub(self, value):
        """Frame variables keep their names visible (debugging needs them); values are scrubbed."""
        if isinstance(value, str):
            return _masked_text(value)
        if isinstance(value, dict | list | tuple) and not isinstance(value, MultiValueDict):
            return self.cleanse_setting("", value)
        return value


def _masked_text(value):
    """Strings masked; anything else (and text with nothing to mask) returned as it was. Lazy
    strings pass isinstance(str) but need str() for the regexes."""
    if not isinstance(value, str):
        return value
    text = str(value)
    masked = mask_credentials(text)
    return value if masked == text else masked
