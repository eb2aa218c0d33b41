"""Indexes on campaigns_delivery for the operations view's "last minutes / last hour" figures.

They live here because only the read side needs them. Partial (rows that reached the stage), so
pending rows cost nothing; on PostgreSQL they are built CONCURRENTLY so a deploy never locks a
table that dispatch is writing to.
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    "delivery_tenant_sent_at": "(tenant_id, sent_at) WHERE sent_at IS NOT NULL",
    "delivery_tenant_failed_at": "(tenant_id, failed_at) WHERE failed_at IS NOT NULL",
}


def create(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, spec in INDEXES.items():
        column_part, where = spec.split(" WHERE ")
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON campaigns_delivery {column_part} WHERE {where}")


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0001_initial"),
        ("campaigns", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
