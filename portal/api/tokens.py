"""`POST /api/v1/auth/token/`: username + password -> a token for scripts."""

from rest_framework.authtoken.views import ObtainAuthToken


class TokenView(ObtainAuthToken):
    """DRF's view, handing Django's own request to authenticate(): django-axes marks a lockout on
    it, and its middleware (which sees Django's request, not DRF's wrapper) answers 429."""

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "request": self.request._request}


token_view = TokenView.as_view()
