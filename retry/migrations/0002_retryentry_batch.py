"""Retry entries record the batch serving their (business, scrape type); existing entries
take it from their last execution, else from the business's current mapping."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill_batch(apps, schema_editor):
    RetryEntry = apps.get_model("retry", "RetryEntry")
    Execution = apps.get_model("schedules", "Execution")
    Mapping = apps.get_model("schedules", "Mapping")
    RetryEntry.objects.filter(last_execution__batch__isnull=False).update(
        batch_id=Subquery(
            Execution.objects.filter(id=OuterRef("last_execution_id")).values("batch_id")[:1]
        )
    )
    RetryEntry.objects.filter(batch__isnull=True).update(
        batch_id=Subquery(
            Mapping.objects.filter(
                business_id=OuterRef("business_id"), scrape_type=OuterRef("scrape_type")
            ).values("batch_id")[:1]
        )
    )


class Migration(migrations.Migration):

    dependencies = [
        ('retry', '0001_initial'),
        ('schedules', '0005_dispatch_switch_and_pause_until'),
    ]

    operations = [
        migrations.AddField(
            model_name='retryentry',
            name='batch',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='schedules.batch'),
        ),
        migrations.RunPython(backfill_batch, migrations.RunPython.noop),
    ]
