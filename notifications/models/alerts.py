"""Operator alerts: the last status each check was alerted at, and every alert sent."""

from django.db import models


class AlertState(models.Model):
    """The status a check (or a schedule, a batch) was last alerted at: the row is locked
    while deciding, so any number of workers send a change once."""

    key = models.CharField(max_length=200, primary_key=True)
    status = models.CharField(max_length=20)
    reason = models.TextField(blank=True)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.status}"


class AlertChannelState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent to every channel"
    FAILED = "failed", "A channel refused it after every attempt"


class Alert(models.Model):
    """One notification to the operators' channels (ALERT_URLS), with what each channel said.
    `channels` maps each channel's redacted URL to its last result."""

    key = models.CharField(max_length=200, db_index=True)
    kind = models.CharField(max_length=20, help_text="change, resolved, test or digest")
    status = models.CharField(max_length=20)
    title = models.CharField(max_length=250)
    body = models.TextField()
    state = models.CharField(
        max_length=20, choices=AlertChannelState.choices, default=AlertChannelState.PENDING
    )
    channels = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="alert_created_idx")]

    def __str__(self) -> str:
        return self.title
