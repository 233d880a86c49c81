from django.db import models
from django.db.models import Q

from businesses.platforms import PLATFORM_CHOICES, ScrapeType

MIN_INTERVAL_MINUTES = 15
MAX_INTERVAL_MINUTES = 30 * 24 * 60


class Tier(models.TextChoices):
    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


class ScrapeStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Team(models.Model):
    """A customer of the product, keyed by the product's own team id."""

    team_id = models.CharField(max_length=64, primary_key=True)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.FREE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="team_tier_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} ({self.tier})"


class Business(models.Model):
    """One team's profile on one platform."""

    # No index of its own: business_team_page_idx (team, id) leads with it.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="businesses", db_index=False
    )
    platform = models.CharField(max_length=20, choices=PLATFORM_CHOICES)
    external_id = models.CharField(
        max_length=500, help_text="Normalised identifier: place id or canonical profile URL."
    )
    platform_key = models.CharField(
        max_length=500,
        help_text="Attribution key matched against scraped items (place id, page URL, "
        "TripAdvisor location id, Booking country/slug). Unique per team and platform.",
    )
    name = models.CharField(max_length=300, blank=True)
    scrape_types = models.JSONField(
        default=list, help_text="Scrape types this business is scheduled for (one mapping each)."
    )
    active = models.BooleanField(default=True)
    last_scraped_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(  # noqa: DJ001 -- NULL before the first scrape (SPEC §4)
        max_length=20, choices=ScrapeStatus.choices, null=True, blank=True
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "platform", "platform_key"], name="business_unique_per_team"
            ),
        ]
        indexes = [
            # Operators look a business up by its identifier across teams.
            models.Index(fields=["platform", "platform_key"], name="business_platform_key_idx"),
            # A team's list pages in id order: an index scan that stops after the page
            # instead of sorting every business of the team (EXPLAIN in bench/api_load.py).
            models.Index(fields=["team", "id"], name="business_team_page_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id} ({self.team_id})"


class ScrapeOutcome(models.Model):
    """The last scrape of one business for one scrape type: operators read "last status" per
    scrape type (a failed reviews run says nothing about the overview). The business's own
    `last_status` stays the worst of these, for clients that read one figure."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="scrape_outcomes")
    scrape_type = models.CharField(max_length=20, choices=ScrapeType.choices)
    last_scraped_at = models.DateTimeField()
    last_status = models.CharField(max_length=20, choices=ScrapeStatus.choices)
    last_error = models.TextField(blank=True)
    last_execution_id = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "scrape_type"], name="scrape_outcome_one_per_type"
            ),
            models.CheckConstraint(
                condition=Q(last_status__in=ScrapeStatus.values), name="scrape_outcome_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business_id}/{self.scrape_type}: {self.last_status}"


class CustomInterval(models.Model):
    """An operator override of a team's interval, for all platforms or for one."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="custom_intervals")
    platform = models.CharField(
        max_length=20,
        choices=PLATFORM_CHOICES,
        blank=True,
        default="",
        help_text="Empty: applies to every platform of the team.",
    )
    interval_minutes = models.PositiveIntegerField()
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this moment the team falls back to its tier."
    )
    reason = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "platform"], name="custom_interval_one_per_team_platform"
            ),
            models.CheckConstraint(
                condition=Q(interval_minutes__gte=MIN_INTERVAL_MINUTES)
                & Q(interval_minutes__lte=MAX_INTERVAL_MINUTES),
                name="custom_interval_in_range",
            ),
        ]
        indexes = [
            # The expiry sweep: custom intervals whose expiry has passed.
            models.Index(
                fields=["expires_at"],
                name="custom_interval_expiry_idx",
                condition=Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        scope = self.platform or "all platforms"
        return f"{self.team_id}: {self.interval_minutes} min on {scope}"


class ReviewItem(models.Model):
    """One scraped dataset item attributed to exactly one business."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="reviews")
    execution = models.ForeignKey(
        "schedules.Execution",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="review_items",
    )
    platform_item_id = models.CharField(max_length=300)
    payload = models.JSONField()
    published_at = models.DateTimeField(null=True, blank=True)
    scraped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "platform_item_id"], name="review_item_unique_per_business"
            ),
        ]
        indexes = [
            # The product's review feed: newest first per business, `?since=` cursor.
            models.Index(fields=["business", "-scraped_at", "-id"], name="review_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.business_id}:{self.platform_item_id}"
