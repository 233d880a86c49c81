"""What Apify's ad-hoc webhook and our endpoint agree on: the events we subscribe to and
the header that carries the secret. The start (schedules/apify.py) attaches the webhook
with these; the endpoint (apis.py) checks them."""

WEBHOOK_EVENT_TYPES = (
    "ACTOR.RUN.SUCCEEDED",
    "ACTOR.RUN.FAILED",
    "ACTOR.RUN.TIMED_OUT",
    "ACTOR.RUN.ABORTED",
)
WEBHOOK_SECRET_HEADER = "X-Webhook-Secret"
WEBHOOK_URL_NAME = "apify-webhook"  # the route's name: its path comes from reverse()
