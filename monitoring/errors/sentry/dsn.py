"""A project's DSN: what a team pastes into `sentry_sdk.init(dsn=...)`.

`{scheme}://{public_key}@{host}{path}/{project_id}`, from PORTAL_BASE_URL. The SDKs post to
`{scheme}://{host}{path}/api/{project_id}/envelope/`, so a portal served under a path prefix
works as long as PORTAL_BASE_URL includes it.
"""

from urllib.parse import urlsplit

from django.conf import settings


def dsn_for(project) -> str:
    base = urlsplit(settings.PORTAL_BASE_URL)
    path = base.path.rstrip("/")
    return f"{base.scheme}://{project.public_key}@{base.netloc}{path}/{project.pk}"
