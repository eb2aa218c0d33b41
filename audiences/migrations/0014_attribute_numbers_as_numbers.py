"""Custom attributes imported as text that are plain decimal numbers ("4000", "12.50") become JSON
numbers, as the import and the contact form now store them (services.attribute_value): segments'
numeric rules compare JSON numbers only. "007", "5e3" and other text stay as they are."""

import re

from django.db import migrations

# services.NUMBER_RE and NUMBER_MAX_LENGTH as of this migration.
NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
MAX_LENGTH = 30

PG_FORWARD = r"""
UPDATE audiences_contact c SET attributes = (
    SELECT jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'string' AND e.value #>> '{}' ~ %(number)s
                                             AND length(e.value #>> '{}') <= %(max_length)s
                                        THEN to_jsonb((e.value #>> '{}')::numeric) ELSE e.value END)
      FROM jsonb_each(c.attributes) e)
 WHERE c.attributes <> '{}'::jsonb
   AND EXISTS (SELECT 1 FROM jsonb_each(c.attributes) e
                WHERE jsonb_typeof(e.value) = 'string' AND e.value #>> '{}' ~ %(number)s
                  AND length(e.value #>> '{}') <= %(max_length)s)
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_FORWARD, {"number": NUMBER, "max_length": MAX_LENGTH})
        return
    Contact = apps.get_model("audiences", "Contact")
    number = re.compile(NUMBER)
    for contact in Contact.objects.exclude(attributes={}).only("attributes").iterator():
        typed = {key: (float(value) if "." in value else int(value))
                 if isinstance(value, str) and len(value) <= MAX_LENGTH and number.match(value) else value
                 for key, value in contact.attributes.items()}
        if typed != contact.attributes:
            Contact.objects.filter(pk=contact.pk).update(attributes=typed)


class Migration(migrations.Migration):

    dependencies = [
        ("audiences", "0013_contact_preview_columns_first"),
    ]

    # Backwards there is nothing to undo: numbers read the same as text in templates and exports.
    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
