"""JSON that is always JSON."""

from rest_framework.renderers import JSONRenderer

from portal.lib.finite import json_finite


class FiniteJSONRenderer(JSONRenderer):
    """DRF's strict renderer raises on inf/NaN (a 500); rows stored before metric values were
    bounded can hold them. Those floats become null instead. The data is walked only then, so
    ordinary responses cost nothing extra."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(json_finite(data), accepted_media_type, renderer_context)
