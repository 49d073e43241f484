#!/usr/bin/env python
import gc
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Start-up (importing Django and every app, building ~100 model classes) allocates a few
    # hundred thousand objects that live as long as the process: the collector walking them over
    # and over is ~20 % of a short command such as `codehealth scan` on an unchanged tree. So it is
    # off until the apps are loaded; then what start-up built is frozen (never scanned again) and
    # collection runs as usual for whatever the command does, however long it runs.
    gc.disable()
    import django
    from django.core.management import execute_from_command_line

    setup = django.setup

    def setup_then_collect(*args, **kwargs):
        try:
            setup(*args, **kwargs)
        finally:
            gc.freeze()
            gc.enable()

    django.setup = setup_then_collect  # called once, by execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
