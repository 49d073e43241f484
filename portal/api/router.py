"""The one API router. Each app registers its viewsets in its own `api` module, which
`portal.api.urls` imports (autodiscovery, like the admin), so no app edits portal code."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
