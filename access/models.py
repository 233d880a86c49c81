import hashlib

from django.db import models
from django.db.models import Q


class AuditEvent(models.Model):
    """Who did what to which object, with the state before and after (every admin write)."""

    actor = models.CharField(max_length=150, help_text="User name, API key name or 'system'.")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type}:{self.object_id}"


class ApiKey(models.Model):
    """A key for a product service (or, with is_admin, an operator's tool).

    Only a SHA-256 of the key is stored; the key itself is shown once, at creation. The
    short public prefix finds the row, the hash comparison decides.
    """

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    is_admin = models.BooleanField(
        default=False, help_text="Admin keys reach the admin API as well as the product API."
    )
    team_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Bound to this team: reaches only /teams/TEAM_ID/…. Empty: every team (a "
        "trusted product service).",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this moment the key answers 401."
    )
    # A rotation keeps the row (name, scope, history) and gives it a new secret; the old one
    # keeps working until previous_valid_until, so clients can switch without downtime.
    previous_prefix = models.CharField(max_length=12, unique=True, null=True, blank=True)
    previous_key_hash = models.CharField(max_length=64, blank=True, default="")
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=~Q(key_hash=""), name="api_key_hash_present"),
            # An operator key reaches every team; binding one to a team would mean nothing.
            models.CheckConstraint(
                condition=Q(is_admin=False) | Q(team_id=""), name="api_key_admin_unbound"
            ),
        ]

    def __str__(self) -> str:
        kind = "admin" if self.is_admin else f"team {self.team_id}" if self.team_id else "product"
        return f"{self.name} ({kind})"

    @property
    def scope(self) -> str:
        """What the key reaches, in words (the admin list, the command's output)."""
        if self.is_admin:
            return "product and admin API, every team"
        return f"team {self.team_id} only" if self.team_id else "product API, every team"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
