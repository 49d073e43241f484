import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# Sentry SDK envelopes are answered before the middleware stack (they need none of it): after
# get_wsgi_application(), which sets Django up for the import.
from monitoring.errors.sentry.fastpath import ingest_fast_path  # noqa: E402

application = ingest_fast_path(application)
