#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands whose own --settings option (a JSON file of site options) must not be read by Django
# as its settings module: Django parses --settings before any command is loaded.
COMMANDS_WITH_OWN_SETTINGS_OPTION = {"build_tariff"}


def command_argv(argv: list[str]) -> list[str]:
    if len(argv) > 1 and argv[1] in COMMANDS_WITH_OWN_SETTINGS_OPTION:
        renamed = []
        for arg in argv:
            if arg == "--settings":
                renamed.append("--site-settings")
            elif arg.startswith("--settings="):
                renamed.append("--site-settings=" + arg.split("=", 1)[1])
            else:
                renamed.append(arg)
        return renamed
    return argv


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powersync_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(command_argv(sys.argv))


if __name__ == "__main__":
    main()
