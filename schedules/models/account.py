"""The Apify account as admission sees it: one ledger row and its history.

The ledger is the row every start locks to decide whether it fits (SPEC §7 Account capacity):
the account's limits and usage as Apify last reported them, and when a refusal or a rate
limit asks us to hold back. Our own in-flight runs are never stored here: they are summed
from the executions themselves under that lock, so the figure cannot drift."""

from django.db import models
from django.db.models import Q


class ApifyAccount(models.Model):
    """The ledger row (id 1, created on first use) that serialises admission."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    # As Apify reports them (user().limits()); null until the first successful read.
    memory_limit_mbytes = models.PositiveIntegerField(null=True, blank=True)
    runs_limit = models.PositiveIntegerField(null=True, blank=True)
    monthly_limit_usd = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    monthly_usage_usd = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    account_memory_mbytes = models.PositiveIntegerField(
        default=0, help_text="Memory of every running job of the account, ours included."
    )
    account_runs = models.PositiveIntegerField(default=0)
    # The account's usage minus ours at the read: runs started outside this service.
    external_memory_mbytes = models.PositiveIntegerField(default=0)
    external_runs = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_error = models.TextField(blank=True)
    refresh_failed_at = models.DateTimeField(null=True, blank=True)
    # After a 402 or a 429 nothing is admitted before this moment.
    hold_until = models.DateTimeField(null=True, blank=True)
    refusals = models.PositiveIntegerField(default=0, help_text="402 answers since install.")
    rate_limited = models.PositiveIntegerField(default=0, help_text="429 answers since install.")
    last_refusal = models.TextField(blank=True)
    last_refusal_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Apify account"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="apify_account_single")]

    def __str__(self) -> str:
        return "Apify account"


class CapacitySample(models.Model):
    """One minute of the account: what the dashboard's 24 h capacity chart draws."""

    at = models.DateTimeField(unique=True)
    memory_mbytes_in_use = models.PositiveIntegerField()
    memory_mbytes_limit = models.PositiveIntegerField(null=True)
    runs_in_use = models.PositiveIntegerField()
    runs_limit = models.PositiveIntegerField(null=True)
    waiting_executions = models.PositiveIntegerField()
    oldest_waiting_seconds = models.PositiveIntegerField()

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"capacity at {self.at:%Y-%m-%d %H:%M}"
