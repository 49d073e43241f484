"""The demo service itself: one place for its slug."""

from portal.models import Service

DEMO_SLUG = "demo-shop"
DEMO_NAME = "Demo shop"
DEMO_DESCRIPTION = "An example web shop with a week of made-up history to explore; it keeps sending samples."


def demo_service() -> Service | None:
    return Service.objects.filter(slug=DEMO_SLUG).first()
