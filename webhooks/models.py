from django.db import models


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting to be processed"
    PROCESSED = "processed", "Processed: the run was ingested (or already had been)"
    UNKNOWN_RUN = "unknown_run", "No execution has this run id"
    FAILED = "failed", "Processing raised an error"


class WebhookEvent(models.Model):
    """One Apify callback, stored once per (run id, event type): duplicates are refused by
    the database, not by a read-then-write check."""

    run_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    dispatch_id = models.CharField(max_length=64, blank=True)
    execution = models.ForeignKey(
        "schedules.Execution",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
    )
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED
    )
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Further deliveries of the same event (Apify delivers at least once)."
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run_id", "event_type"], name="webhook_event_once"),
        ]
        indexes = [
            # Operators' list and health: recent events by outcome.
            models.Index(fields=["status", "-received_at"], name="webhook_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.run_id} ({self.status})"
