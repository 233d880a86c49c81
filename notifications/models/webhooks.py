"""Product webhook endpoints and the outbox of their deliveries."""

import uuid

from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    BUSINESS_SCRAPED = "business.scraped", "A business's run was ingested"
    BUSINESS_FAILED = "business.failed", "A business's retries are exhausted"
    TEST = "webhook.test", "A test event an operator sent"


SUBSCRIBABLE = (EventType.BUSINESS_SCRAPED, EventType.BUSINESS_FAILED)


class WebhookEndpoint(models.Model):
    """A product service's URL, subscribed to some events. Bound to a team, it receives only
    that team's events; unbound, every team's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    events = models.JSONField(help_text="The event types it receives.")
    team = models.ForeignKey(
        "businesses.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only this team's events; empty: every team's.",
    )
    description = models.CharField(max_length=500, blank=True)
    # The signing key (whsec_…): shown once at creation and rotation, needed to sign.
    secret = models.CharField(max_length=100)
    # A rotation keeps signing with the previous key too until then (both signatures sent).
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["enabled", "team"], name="endpoint_enabled_team_idx")]

    def __str__(self) -> str:
        return self.url


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting for its next attempt"
    SUCCEEDED = "succeeded", "The endpoint answered 2xx"
    FAILED = "failed", "Gave up: attempts exhausted or the endpoint disabled"


class Delivery(models.Model):
    """One event for one endpoint: written in the transaction of what caused it, sent at
    least once under the same `webhook-id` (msg_id) however often it is retried or replayed."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    msg_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    team_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery, as the endpoint answered it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    response_snippet = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivery", "-attempted_at"], name="attempt_delivery_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code}"
