"""The Apify sandbox: a local HTTP server speaking the Apify API subset apify-client uses, whose
runs finish by themselves with plausible items and call their webhooks back (SPEC §6).

`apify_sandbox.server.Sandbox` is the Python API; `python manage.py apify_sandbox` runs it. The
strict HTTP core (`apify_sandbox.core`) is shared with the test fake in `tests/fakes/`."""
