"""Trigram indexes for the contacts grid's fragment searches (PostgreSQL only; SQLite scans).

The expressions must stay exactly what the queries say: selectors.SearchText under Django's
icontains (UPPER(<expr>::text) LIKE UPPER(...)) and phone under contains (phone::text LIKE ...)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "contact_search_trgm": "UPPER(((first_name || ' ' || last_name || ' ' || email))::text) gin_trgm_ops",
    "contact_phone_trgm": "(phone::text) gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audiences_contact USING gin ({expression})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("audiences", "0007_contact_reach_and_delete_jobs"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop),
    ]
