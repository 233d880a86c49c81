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
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=~Q(key_hash=""), name="api_key_hash_present"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({'admin' if self.is_admin else 'product'})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
