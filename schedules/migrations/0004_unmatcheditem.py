"""UnmatchedItem joins schedules with ingest: the existing table (created by webhooks 0001)
is adopted as it is, then renamed to this app's name. No row moves."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schedules", "0003_execution_created_at_db_clock"),
        ("webhooks", "0002_unmatcheditem_moves_to_schedules"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UnmatchedItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "reason",
                            models.CharField(
                                choices=[
                                    ("no_key", "The item carries no attribution key"),
                                    (
                                        "not_in_snapshot",
                                        "No business of the run's snapshot has this key",
                                    ),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("key", models.CharField(blank=True, max_length=500)),
                        ("payload", models.JSONField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "execution",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="unmatched_items",
                                to="schedules.execution",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "webhooks_unmatcheditem",
                        "indexes": [
                            models.Index(
                                fields=["execution", "reason"], name="unmatched_execution_idx"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="unmatcheditem", table=None),
    ]
