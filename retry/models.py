from django.db import models
from django.db.models import Q

from businesses.platforms import ScrapeType


class RetryState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


OPEN_RETRY_STATES = (RetryState.PENDING, RetryState.RUNNING)


class RetryEntry(models.Model):
    """A business that failed inside a run, waiting for its own single-business run."""

    business = models.ForeignKey(
        "businesses.Business", on_delete=models.CASCADE, related_name="retry_entries"
    )
    scrape_type = models.CharField(max_length=20, choices=ScrapeType.choices)
    state = models.CharField(max_length=20, choices=RetryState.choices, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_execution = models.ForeignKey(
        "schedules.Execution", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The batch serving this (business, scrape type): the entry's runs show in its history.
    batch = models.ForeignKey(
        "schedules.Batch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retry entries"
        constraints = [
            # At most one open entry per (business, scrape type); closed ones are history.
            models.UniqueConstraint(
                fields=["business", "scrape_type"],
                condition=Q(state__in=["pending", "running"]),
                name="retry_one_open_per_business_type",
            ),
            models.CheckConstraint(
                condition=Q(state__in=RetryState.values), name="retry_state_valid"
            ),
        ]
        indexes = [
            # The retry processor's claim: pending entries whose time has come.
            models.Index(
                fields=["next_attempt_at"], name="retry_due_idx", condition=Q(state="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"retry {self.business_id}/{self.scrape_type} ({self.state}, {self.attempts})"
