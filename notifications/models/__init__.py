"""The two outboxes: product webhook endpoints with their deliveries, and operator alerts."""

from notifications.models.alerts import Alert, AlertChannelState, AlertState  # noqa: F401
from notifications.models.webhooks import (  # noqa: F401
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    EventType,
    WebhookEndpoint,
)
