"""Which project an SDK request is for, and whether its key may post there.

The SDKs send the DSN's public key in the X-Sentry-Auth header
(`Sentry sentry_key=<key>, sentry_version=7, sentry_client=sentry.python/2.0.0`), browsers in the
`sentry_key` query parameter (a custom header would cost a CORS preflight per envelope), and an
envelope may carry the whole DSN in its header. The key is public: it allows ingest into its own
project and nothing else (it is not a service API key and no API view accepts it).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import connection

from monitoring.errors.models import ErrorProject

MAX_KEY = 64  # public keys are 32 hex digits; anything longer is not one of ours


class AuthFailed(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class IngestProject:
    """What the ingest needs of the project a key opens: its id (the DSN's) and its service's."""

    pk: int
    service_id: int


@dataclass(frozen=True)
class SdkAuth:
    key: str
    client: str = ""
    version: str = ""


def parse_auth_header(value: str) -> dict[str, str]:
    """`Sentry sentry_key=a, sentry_version=7` -> {"sentry_key": "a", "sentry_version": "7"}."""
    value = value.strip()
    if value[:7].lower() == "sentry ":
        value = value[7:]
    fields = {}
    for part in value.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = field_value.strip().strip('"')
    return fields


def key_from_dsn(dsn) -> str:
    """The public key of a DSN (`https://<key>@host/1`); "" when there is none."""
    if type(dsn) is not str:
        return ""
    try:
        return urlsplit(dsn).username or ""
    except ValueError:
        return ""


def sdk_auth(*, header: str, query: dict) -> SdkAuth | None:
    """The credentials of a request from its header or query string; None when it carries none."""
    fields = parse_auth_header(header) if header else {}
    if fields.get("sentry_key"):
        return SdkAuth(fields["sentry_key"], fields.get("sentry_client", ""), fields.get("sentry_version", ""))
    if query.get("sentry_key"):
        return SdkAuth(query["sentry_key"], query.get("sentry_client", ""), query.get("sentry_version", ""))
    return None


def project_authenticate(*, project_id: int, key: str) -> IngestProject:
    """The project the key may post to, or AuthFailed: 401 for no key or an unknown one, 403 for
    the key of another project (it is valid, just not here).

    Read with one plain SELECT of two columns on every request, not cached, so a regenerated key
    stops working at once: building the ORM query and the related Service cost more CPU than the
    rest of authentication (bench/error_ingest_profile.py)."""
    if not key:
        raise AuthFailed(401, "no sentry_key: send the X-Sentry-Auth header or the sentry_key query parameter")
    if len(key) > MAX_KEY:
        raise AuthFailed(401, "unknown sentry_key")
    meta = ErrorProject._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {meta.pk.column}, {meta.get_field('service').column} FROM {meta.db_table} "  # noqa: S608 (names from the model)
            f"WHERE {meta.get_field('public_key').column} = %s",
            [key],
        )
        row = cursor.fetchone()
    if row is None:
        raise AuthFailed(401, "unknown sentry_key")
    project = IngestProject(pk=row[0], service_id=row[1])
    if project.pk != project_id:
        raise AuthFailed(403, f"this sentry_key does not belong to project {project_id}")
    return project
