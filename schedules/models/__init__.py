import uuid
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from businesses.models import MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from schedules.models.account import ApifyAccount, CapacitySample  # noqa: F401 (re-exported)
from schedules.policies import CronGrid, Grid, IntervalGrid, is_valid_cron
from schedules.querysets import BatchQuerySet
from schedules.states import ExecutionState


class ScheduleGroup(models.Model):
    """A global schedule: one (platform, scrape type, interval), split into batches."""

    platform = models.CharField(max_length=20, choices=PLATFORM_CHOICES)
    scrape_type = models.CharField(max_length=20, choices=ScrapeType.choices)
    interval_minutes = models.PositiveIntegerField()
    cron_expression = models.CharField(
        max_length=100,
        blank=True,
        help_text="When set, run times come from this cron expression (in `timezone`) "
        "instead of the interval; batches still add their stagger offset.",
    )
    timezone = models.CharField(max_length=64, default="UTC")
    is_standard = models.BooleanField(
        default=False, help_text="One of the tier-default groups made by init_global_schedules."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "scrape_type", "interval_minutes", "cron_expression"],
                name="schedule_group_unique",
            ),
            models.CheckConstraint(
                condition=Q(interval_minutes__gte=MIN_INTERVAL_MINUTES)
                & Q(interval_minutes__lte=MAX_INTERVAL_MINUTES),
                name="schedule_group_interval_in_range",
            ),
        ]

    def __str__(self) -> str:
        when = self.cron_expression or f"every {self.interval_minutes} min"
        return f"{self.platform}/{self.scrape_type} {when}"

    def clean(self) -> None:
        """A cron expression and a time zone the dispatcher can compute (admin forms)."""
        errors = {}
        if self.cron_expression and not is_valid_cron(self.cron_expression):
            errors["cron_expression"] = ["Not a valid cron expression (5 fields)."]
        if self.timezone not in available_timezones():
            errors["timezone"] = ["Unknown time zone, e.g. Europe/Prague."]
        if errors:
            raise ValidationError(errors)

    def grid(self, offset_seconds: int = 0) -> Grid:
        """The run times of a batch of this group with the given stagger offset."""
        if self.cron_expression:
            return CronGrid(self.cron_expression, self.timezone, offset_seconds)
        return IntervalGrid(self.interval_minutes * 60, offset_seconds)


class BatchStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"
    RETIRED = "retired"


class MisfirePolicy(models.TextChoices):
    SKIP = "skip", "Run once if the latest missed slot is inside the catch-up window"
    RUN_ONCE = "run_once", "Always run once after downtime, however late"


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", "Record a skipped execution while the previous one is active"
    ALLOW = "allow", "Start anyway"
    CANCEL_PREVIOUS = "cancel_previous", "Cancel the active execution, then start"


class Batch(models.Model):
    """One dispatchable unit of a group: the row the dispatcher locks."""

    group = models.ForeignKey(ScheduleGroup, on_delete=models.PROTECT, related_name="batches")
    batch_index = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField()
    business_count = models.IntegerField(
        default=0, help_text="Denormalised count of mappings; kept exact by the services."
    )
    stagger_offset_seconds = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default="active")
    paused_reason = models.TextField(blank=True)
    paused_until = models.DateTimeField(
        null=True, blank=True, help_text="A pause with an end: the tick resumes the batch then."
    )
    misfire_policy = models.CharField(
        max_length=20, choices=MisfirePolicy.choices, default=MisfirePolicy.SKIP
    )
    overlap_policy = models.CharField(
        max_length=20, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP
    )
    missed_runs_count = models.PositiveIntegerField(
        default=0, help_text="Slots skipped by the misfire policy, over the batch's life."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(fields=["group", "batch_index"], name="batch_unique_index"),
            models.CheckConstraint(
                condition=Q(business_count__gte=0) & Q(business_count__lte=models.F("capacity")),
                name="batch_count_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="batch_status_valid"
            ),
        ]
        indexes = [
            # The dispatcher's claim: active batches with next_run_at <= now(), oldest first.
            models.Index(
                fields=["next_run_at"], name="batch_due_idx", condition=Q(status="active")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} #{self.batch_index}"

    @property
    def free_room(self) -> int:
        return self.capacity - self.business_count

    def grid(self) -> Grid:
        return self.group.grid(self.stagger_offset_seconds)


class Mapping(models.Model):
    """Business ↔ batch for one scrape type, with what attribution needs denormalised."""

    # No index of their own on the three keys: each leads one below (a lookup by business,
    # batch or team uses it), and every index costs each mapping an import writes.
    business = models.ForeignKey(
        "businesses.Business", on_delete=models.CASCADE, related_name="mappings", db_index=False
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="mappings", db_index=False
    )
    scrape_type = models.CharField(max_length=20, choices=ScrapeType.choices)
    team = models.ForeignKey(
        "businesses.Team", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    platform_key = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "scrape_type"], name="mapping_one_per_business_type"
            ),
        ]
        indexes = [
            # The start task's snapshot and the batch's business list.
            models.Index(fields=["batch", "business"], name="mapping_batch_idx"),
            # Tier changes and custom intervals move a team's mappings.
            models.Index(fields=["team", "scrape_type"], name="mapping_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.business_id} → batch {self.batch_id} ({self.scrape_type})"


class Trigger(models.TextChoices):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    RETRY = "retry"


class Execution(models.Model):
    """One attempt to run a batch (or a single business, for a retry)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="executions"
    )
    platform = models.CharField(max_length=20, choices=PLATFORM_CHOICES)
    scrape_type = models.CharField(max_length=20, choices=ScrapeType.choices)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    state = models.CharField(
        max_length=20, choices=ExecutionState.choices, default=ExecutionState.PENDING
    )
    scheduled_for = models.DateTimeField(help_text="The slot this execution serves.")
    missed_slots = models.PositiveIntegerField(
        default=0, help_text="Slots skipped by the misfire policy just before this one."
    )
    # The database clock, like due-ness and leases: lateness (created_at - scheduled_for)
    # stays true when a dispatcher's clock is skewed.
    created_at = models.DateTimeField(db_default=Now())
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A pending/starting execution past this moment is taken again.",
    )
    start_attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    actor_id = models.CharField(max_length=200, blank=True)
    apify_run_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    apify_dataset_id = models.CharField(max_length=64, blank=True)
    requested_memory_mbytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Memory the run requested: what it holds of the account."
    )
    # Admission (SPEC §7): a pending execution that did not fit the Apify account waits here,
    # with no lease, until room frees.
    waiting_since = models.DateTimeField(null=True, blank=True)
    wait_reason = models.CharField(max_length=200, blank=True)
    run_ended_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Apify said the run ended: from then on it holds no account capacity, "
        "even while its dataset is still being ingested.",
    )
    business_snapshot = models.JSONField(
        default=list,
        blank=True,
        help_text="The businesses this run scrapes, frozen at start: results are attributed "
        "to these and no others.",
    )
    business_count = models.PositiveIntegerField(default=0)
    team_counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Businesses of the snapshot per team: how the run's cost is shared.",
    )
    items_count = models.PositiveIntegerField(default=0)
    attributed_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    usage_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    compute_units = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    run_abort_pending = models.BooleanField(
        default=False,
        help_text="Cancelled while its Apify run may still be going: reconciliation aborts it.",
    )

    class Meta:
        constraints = [
            # Double dispatch is impossible: a slot of a batch has at most one execution.
            models.UniqueConstraint(
                fields=["batch", "scheduled_for"],
                condition=Q(trigger="scheduled"),
                name="execution_one_per_slot",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ExecutionState.values), name="execution_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=Trigger.values), name="execution_trigger_valid"
            ),
        ]
        indexes = [
            # A batch's history, newest first.
            models.Index(fields=["batch", "-scheduled_for"], name="execution_batch_idx"),
            # Overlap check at dispatch: the active executions of the claimed batches.
            models.Index(
                fields=["batch"],
                name="execution_active_idx",
                condition=Q(state__in=["pending", "starting", "running"]),
            ),
            # Lease recovery: pending/starting executions whose lease has run out.
            models.Index(
                fields=["lease_expires_at"],
                name="execution_lease_idx",
                condition=Q(state__in=["pending", "starting"]),
            ),
            # Admission: the pending queue in its order (oldest slot first).
            models.Index(
                fields=["scheduled_for"], name="execution_pending_idx", condition=Q(state="pending")
            ),
            # Operators' history filters.
            models.Index(fields=["state", "-created_at"], name="execution_state_idx"),
            # Reconciliation: running executions, oldest start first.
            models.Index(
                fields=["started_at"], name="execution_running_idx", condition=Q(state="running")
            ),
            # Reconciliation: cancelled executions whose Apify run must still be aborted.
            models.Index(
                fields=["id"], name="execution_abort_idx", condition=Q(run_abort_pending=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} execution {self.id} ({self.state})"


class DispatchSwitch(models.Model):
    """The kill switch: while `paused`, no batch is dispatched and no run is started (runs in
    flight finish and are ingested). One row, id 1, created on first use."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    paused = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.CharField(max_length=150, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "dispatch switch"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="dispatch_switch_single")]

    def __str__(self) -> str:
        return "dispatch paused" if self.paused else "dispatch running"


class Heartbeat(models.Model):
    """Last sign of life of a dispatcher or worker process, for health."""

    name = models.CharField(max_length=200, primary_key=True)
    kind = models.CharField(max_length=20)
    last_seen_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "-last_seen_at"], name="heartbeat_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class UnmatchedItem(models.Model):
    """A dataset item no snapshot business could claim: kept aside by ingest, never guessed."""

    class Reason(models.TextChoices):
        NO_KEY = "no_key", "The item carries no attribution key"
        NOT_IN_SNAPSHOT = "not_in_snapshot", "No business of the run's snapshot has this key"

    execution = models.ForeignKey(
        "schedules.Execution", on_delete=models.CASCADE, related_name="unmatched_items"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    key = models.CharField(max_length=500, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["execution", "reason"], name="unmatched_execution_idx")]

    def __str__(self) -> str:
        return f"{self.reason} item of {self.execution_id}"
