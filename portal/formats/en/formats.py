"""Date and time formats for English, found through settings.FORMAT_MODULE_PATH.

Django localizes dates with the active language's formats (Django 5 always does), so the
24-hour formats have to live here for the admin to use them too; pages use the same
formats through the `when` filter in portal/templatetags/humanize_ops.py.
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y-m-d H:i T"  # T: the zone's abbreviation, e.g. UTC or CET
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
