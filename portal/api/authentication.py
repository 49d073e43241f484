"""`Authorization: Bearer <service key>` for instrumented applications."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.keys import service_key_find, service_key_touch
from portal.models import Service, ServiceKey


class MachinePrincipal:
    """request.user for a machine credential (a service key, a receiver token): authenticated,
    but never a person, staff or superuser, and with no user row behind it."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False
    pk = None


@dataclass
class ServicePrincipal(MachinePrincipal):
    """Stands in for request.user when a service key authenticated the request."""

    service: Service
    key: ServiceKey

    def __str__(self) -> str:
        return f"service:{self.service.slug}"


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != self.keyword:
            return None  # not ours: session or token auth may still apply
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization: expected 'Bearer <service key>'.")
        key = service_key_find(header[1].decode(errors="replace"))
        if key is None:
            raise exceptions.AuthenticationFailed("Authorization: unknown or revoked service key.")
        service_key_touch(key=key)
        return ServicePrincipal(service=key.service, key=key), key

    def authenticate_header(self, request):
        return self.keyword


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    target_class = ServiceKeyAuthentication
    name = "ServiceKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A service API key (pk_…)."}
