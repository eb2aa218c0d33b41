# The single-column indexes on Delivery.run, .campaign and .contact duplicate the leading column of
# a composite index (delivery_unique_recipient, delivery_campaign_status, delivery_contact_recent);
# every insert and status change paid for them. Only the indexes are dropped: the foreign keys stay
# as they are (Django's own AlterField would drop and re-validate each constraint over the table).

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "campaign": "campaigns_delivery_campaign_id_87e5668a",
    "contact": "campaigns_delivery_contact_id_7f909d78",
    "run": "campaigns_delivery_run_id_d0d62033",
}


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0003_telegram'),
        ('campaigns', '0007_template_samples'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {name}",
                                  f"CREATE INDEX IF NOT EXISTS {name} ON campaigns_delivery ({field}_id)")
                for field, name in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='delivery',
                    name='campaign',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='campaigns.campaign'),
                ),
                migrations.AlterField(
                    model_name='delivery',
                    name='contact',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deliveries', to='audiences.contact'),
                ),
                migrations.AlterField(
                    model_name='delivery',
                    name='run',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='campaigns.campaignrun'),
                ),
            ],
        ),
    ]
