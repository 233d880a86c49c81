"""Test settings: the production settings on PostgreSQL, with fast Apify retries.

Override the defaults with the same environment variables as production.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/scheduler")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("APIFY_TOKEN", "test-token")
os.environ.setdefault("APIFY_MIN_RETRY_DELAY_MS", "5")
os.environ.setdefault("APIFY_MAX_RETRIES", "2")
# Tests run with DEBUG off, as production does, so the processes they start (workers, beat,
# the dispatcher) need real-looking secrets: scheduler_project/production.py refuses others.
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-not-the-development-default")
os.environ.setdefault("APIFY_WEBHOOK_SECRET", "test-webhook-secret-not-the-development-default")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

from scheduler_project.settings import *  # noqa: F403
