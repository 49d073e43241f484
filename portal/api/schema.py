"""The OpenAPI schema documents the errors every API view can answer, not only its success.

drf-spectacular lists what a view returns when all goes well; the refusals come from DRF and
the portal's wiring, the same for every view (authentication, roles, filters, pagination, body
limits, throttles, a database outage), so they are added here once instead of in an
`extend_schema` per view.
A view's own `extend_schema(responses=...)` wins for a code it documents itself.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions
from rest_framework.authtoken.views import ObtainAuthToken

from portal.api.throttling import ServiceKeyWriteThrottle

ERROR_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "Why the request was refused.",
}
VALIDATION_ERROR = {
    "type": "object",
    "additionalProperties": {},
    "description": 'Each invalid field with its messages, e.g. {"version": ["This field may not be blank."]}; '
    "problems with the request as a whole under `detail` or `non_field_errors`.",
}

UNSAFE = ("POST", "PUT", "PATCH")


class PortalAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        detail = self._error_component("ErrorDetail", ERROR_DETAIL)
        invalid = self._error_component("ValidationError", VALIDATION_ERROR)
        errors = {
            # Filters (also applied when looking up one object), query parameters and bodies.
            "400": (invalid, "Invalid input: the body names each bad field."),
            "401": (detail, "No credentials, or an unknown or revoked service key or token."),
            "403": (detail, "The role or the service key does not allow this (or a missing CSRF token)."),
        }
        if "{" in path or self.method == "GET":
            errors["404"] = (detail, "No such object, or a page past the last one.")
        if self.method in UNSAFE:
            errors["413"] = (detail, "The request body is too large.")
        if "requestBody" in operation:
            errors["415"] = (detail, "Unsupported Content-Type.")
        if self._throttled():
            errors["429"] = (detail, "Too many requests: retry after the number of seconds in Retry-After.")
        responses = operation["responses"]
        for code, (component, description) in errors.items():
            responses.setdefault(
                code, {"content": {"application/json": {"schema": component.ref}}, "description": description}
            )
        responses.setdefault(
            "503",
            {
                "content": {"application/json": {"schema": detail.ref}},
                "description": "The database is unavailable for a moment: retry after Retry-After seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
            },
        )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def get_auth(self):
        auths = super().get_auth()
        # A view without permission classes (the token exchange) is open to anonymous callers.
        if not self.view.get_permissions() and {} not in auths:
            auths.append({})
        return auths

    def _throttled(self) -> bool:
        if isinstance(self.view, ObtainAuthToken):
            return True  # django-axes locks out repeated failed logins with a 429
        throttles = [t.__class__ for t in self.view.get_throttles()]
        if any(t is not ServiceKeyWriteThrottle for t in throttles):
            return True
        # The per-key write throttle runs after the permission check, so only writes a key may make.
        key_actions = getattr(self.view, "service_key_actions", ())
        return (
            ServiceKeyWriteThrottle in throttles
            and self.method not in permissions.SAFE_METHODS
            and getattr(self.view, "action", None) in key_actions
        )

    def _error_component(self, name: str, schema: dict) -> ResolvedComponent:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
        self.registry.register_on_missing(component)
        return component
