"""One GIN trigram index for the contacts grid's fragment searches instead of two.

Before: contact_search_trgm over UPPER(first_name || ' ' || last_name || ' ' || email) and
contact_phone_trgm over phone. Every new contact paid for two GIN insertions (a large part of an
import's database time), and pg_trgm's opclass also answers `phone = ...`: with the statistics of a
fast-growing tenant the planner resolved the import's phone lookups through contact_phone_trgm
instead of the unique btree, where every Indian mobile shares the trigrams of "+91", and one
lookup read thousands of posting pages (an import of 200,000 rows spent 3 ms of CPU per row).

After: one index over the four columns joined by spaces. The expression must stay exactly what
selectors.SearchText renders under Django's icontains: UPPER(<expr>::text) LIKE UPPER('%...%').
A phone fragment search filters on that expression (served by this index) and on phone itself
(the exact meaning). PostgreSQL only; SQLite scans."""

from django.db import migrations

NEW = {"contact_search_all_trgm":
       "UPPER(((first_name || ' ' || last_name || ' ' || email || ' ' || phone))::text) gin_trgm_ops"}
OLD = {
    "contact_search_trgm": "UPPER(((first_name || ' ' || last_name || ' ' || email))::text) gin_trgm_ops",
    "contact_phone_trgm": "(phone::text) gin_trgm_ops",
}


def _swap(schema_editor, drop: dict[str, str], create: dict[str, str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in drop:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name, expression in create.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audiences_contact USING gin ({expression})")


def forwards(apps, schema_editor):
    _swap(schema_editor, OLD, NEW)


def backwards(apps, schema_editor):
    _swap(schema_editor, NEW, OLD)


class Migration(migrations.Migration):

    dependencies = [
        ("audiences", "0011_contact_suppressed_mask"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
