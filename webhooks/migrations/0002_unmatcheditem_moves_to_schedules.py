"""UnmatchedItem is written by ingest, which lives in schedules now: the model leaves this
app's state here; its table is taken over (and renamed) by schedules 0004."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="UnmatchedItem")],
            database_operations=[],
        ),
    ]
