"""Per (business, scrape type) outcomes; filled by the next scrape of each type (the old
per-business status cannot say which type it came from)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('businesses', '0002_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScrapeOutcome',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scrape_type', models.CharField(choices=[('reviews', 'Reviews (new since the last scrape)'), ('overview', 'Overview (rating, review count, name)')], max_length=20)),
                ('last_scraped_at', models.DateTimeField()),
                ('last_status', models.CharField(choices=[('succeeded', 'Succeeded'), ('failed', 'Failed')], max_length=20)),
                ('last_error', models.TextField(blank=True)),
                ('last_execution_id', models.UUIDField(blank=True, null=True)),
                ('business', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='scrape_outcomes', to='businesses.business')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('business', 'scrape_type'), name='scrape_outcome_one_per_type'), models.CheckConstraint(condition=models.Q(('last_status__in', ['succeeded', 'failed'])), name='scrape_outcome_status_valid')],
            },
        ),
    ]
