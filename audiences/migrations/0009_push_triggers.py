"""The triggers that keep Contact.has_push (and so the reach mask's push bit) right.

The triggers are the only writer of has_push, so every path that adds, moves or deletes a
subscription (the public subscribe endpoint, the engine dropping a dead one, admin, cascades,
raw SQL) keeps it right. On PostgreSQL the function locks the contact row before it looks for
the remaining subscriptions, so two concurrent deletes cannot both see the other's row."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audiences_pushsubscription_has_push() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.contact_id IS NOT NULL THEN
        PERFORM 1 FROM audiences_contact WHERE id = OLD.contact_id FOR UPDATE;
        UPDATE audiences_contact SET has_push = EXISTS (
            SELECT 1 FROM audiences_pushsubscription WHERE contact_id = OLD.contact_id)
         WHERE id = OLD.contact_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.contact_id IS NOT NULL THEN
        UPDATE audiences_contact SET has_push = true WHERE id = NEW.contact_id AND NOT has_push;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audiences_pushsubscription_has_push
    AFTER INSERT OR DELETE OR UPDATE OF contact_id ON audiences_pushsubscription
    FOR EACH ROW EXECUTE FUNCTION audiences_pushsubscription_has_push();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audiences_pushsubscription_has_push ON audiences_pushsubscription;
DROP FUNCTION IF EXISTS audiences_pushsubscription_has_push();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER audiences_pushsubscription_has_push_ins AFTER INSERT ON audiences_pushsubscription
       WHEN NEW.contact_id IS NOT NULL
       BEGIN UPDATE audiences_contact SET has_push = 1 WHERE id = NEW.contact_id; END""",
    """CREATE TRIGGER audiences_pushsubscription_has_push_del AFTER DELETE ON audiences_pushsubscription
       WHEN OLD.contact_id IS NOT NULL
       BEGIN UPDATE audiences_contact SET has_push = EXISTS (
           SELECT 1 FROM audiences_pushsubscription WHERE contact_id = OLD.contact_id) WHERE id = OLD.contact_id; END""",
    """CREATE TRIGGER audiences_pushsubscription_has_push_upd AFTER UPDATE OF contact_id ON audiences_pushsubscription
       BEGIN
           UPDATE audiences_contact SET has_push = EXISTS (
               SELECT 1 FROM audiences_pushsubscription WHERE contact_id = OLD.contact_id) WHERE id = OLD.contact_id;
           UPDATE audiences_contact SET has_push = 1 WHERE id = NEW.contact_id;
       END""",
]
BACKFILL = """UPDATE audiences_contact SET has_push = EXISTS (
    SELECT 1 FROM audiences_pushsubscription p WHERE p.contact_id = audiences_contact.id)
    WHERE EXISTS (SELECT 1 FROM audiences_pushsubscription p WHERE p.contact_id = audiences_contact.id)"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"Contact.has_push needs triggers written for {vendor}.")
    schema_editor.execute(BACKFILL)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    else:
        for name in ("ins", "del", "upd"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS audiences_pushsubscription_has_push_{name}")


class Migration(migrations.Migration):

    dependencies = [
        ("audiences", "0008_search_trigram"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
