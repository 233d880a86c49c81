#!/usr/bin/env python
import os
import sys

# Commands that serve: they refuse unsafe production settings (scheduler_project/production.py).
# run_stack on the embedded default makes its own secrets for its children, so it is not here.
SERVING_COMMANDS = {"runserver", "run_dispatcher", "run_stack"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_project.settings")
    import django
    from django.core.management import execute_from_command_line

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    embedded_first_run = command == "run_stack" and "DATABASE_URL" not in os.environ
    if command in SERVING_COMMANDS and not embedded_first_run:
        django.setup()
        from scheduler_project.production import refuse_unsafe_production

        try:
            refuse_unsafe_production(command)
        except Exception as exc:  # ImproperlyConfigured: print it plainly, exit non-zero
            sys.exit(f"Error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
