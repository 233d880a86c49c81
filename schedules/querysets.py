from django.db import models
from django.db.models.functions import Now


class BatchQuerySet(models.QuerySet):
    def due(self) -> "BatchQuerySet":
        """Active batches whose slot has come, judged by the DATABASE clock (never a worker's).

        Served by the partial index `batch_due_idx` (next_run_at WHERE status = 'active').
        """
        return self.filter(status="active", next_run_at__lte=Now()).order_by("next_run_at")

    def serving(self) -> "BatchQuerySet":
        """Active batches holding at least one business: the ones that run. An emptied batch
        stays active, advanced by the tick without an execution, until a business joins."""
        return self.filter(status="active", business_count__gt=0)

    def claim(self, limit: int) -> "BatchQuerySet":
        """Lock up to `limit` due batches, skipping rows another dispatcher holds.

        Two dispatchers never get the same row; each then advances `next_run_at` in the same
        transaction, so the row is no longer due when the lock is released.
        """
        return self.due().select_for_update(skip_locked=True, of=("self",))[:limit]
