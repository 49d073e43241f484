"""Template filters of the analytics pages."""

from django import template

from portal.templatetags.humanize_ops import DASH, percent

register = template.Library()


@register.filter
def rate(value, decimals=2) -> str:
    """A 0-1 share (success rate, error rate) as a percentage."""
    return DASH if value is None else percent(value * 100, decimals)


@register.filter
def change(value) -> str:
    """A relative change as a signed percentage ("+12 %", "-3.5 %"); a dash when unknown."""
    if value is None:
        return DASH
    text = percent(abs(value) * 100, 1)
    return f"+{text}" if value > 0 else f"-{text}" if value < 0 else text
