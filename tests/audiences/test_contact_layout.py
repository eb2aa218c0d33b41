"""The contacts table keeps the columns the preview reads first (migrations 0013, 0015), and rebuilding it
loses no row, index, constraint, trigger, foreign key or grant."""

from __future__ import annotations

import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from audiences.models import Contact, ContactList, Suppression, SuppressionKind, Tag

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL storage layout"),
]

LAYOUT = importlib.import_module("audiences.migrations.0013_contact_preview_columns_first")
# The layout as the latest migration that rebuilt the table left it.
LEADING = importlib.import_module("audiences.migrations.0015_contact_city_key").LEADING


def _columns() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'audiences_contact'::regclass "
                       "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        return [name for (name,) in cursor.fetchall()]


def _catalog() -> dict[str, set[str]]:
    """Every definition that hangs on the contacts table, as PostgreSQL prints it."""
    queries = {
        "indexes": "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'audiences_contact'::regclass",
        "constraints": "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) "
                       "FROM pg_constraint WHERE 'audiences_contact'::regclass IN (conrelid, confrelid)",
        "triggers": "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
                    "WHERE tgrelid = 'audiences_contact'::regclass AND NOT tgisinternal",
        "grants": "SELECT a.grantee::regrole || ' ' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
                  "WHERE c.oid = 'audiences_contact'::regclass",
        "columns": "SELECT attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' "
                   "|| attgenerated::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a "
                   "LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum) "
                   "WHERE attrelid = 'audiences_contact'::regclass AND attnum > 0 AND NOT attisdropped",
    }
    with connection.cursor() as cursor:
        catalog = {}
        for kind, sql in queries.items():
            cursor.execute(sql)
            catalog[kind] = {row[0] for row in cursor.fetchall()}
        return catalog


def test_the_columns_segments_read_come_first():
    assert _columns()[:len(LEADING)] == list(LEADING)


def test_rebuilding_keeps_rows_links_and_every_object_on_the_table(in_tenant_a):
    tag = Tag.objects.create(tenant=in_tenant_a, name="vip")
    spring = ContactList.objects.create(tenant=in_tenant_a, name="Spring")
    asha = Contact.objects.create(tenant=in_tenant_a, first_name="Asha", email="asha@example.com",
                                  phone="+919800000001", consent_sms="opted_in", attributes={"ltv": 4500})
    asha.tags.add(tag)
    spring.contacts.add(asha)
    # Roles belong to the whole server: one per test database, so parallel runs do not collide.
    reader = f"contact_reader_{connection.settings_dict['NAME']}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{reader}"')
        cursor.execute(f'GRANT SELECT ON audiences_contact TO "{reader}"')
    before_rows = list(Contact.objects.values())
    before = _catalog()
    assert any(reader in grant for grant in before["grants"])

    with connection.cursor() as cursor:
        LAYOUT.rebuild_in_order(cursor, "audiences_contact", ("email", "first_name", "tenant_id"))

    assert _columns()[:3] == ["email", "first_name", "tenant_id"]
    assert _catalog() == before
    assert list(Contact.objects.values()) == before_rows
    assert list(asha.tags.all()) == [tag] and list(spring.contacts.all()) == [asha]
    # The triggers still run: suppressing the address flags the contact, and `reach` is still computed.
    Suppression.objects.create(tenant=in_tenant_a, kind=SuppressionKind.EMAIL, value="asha@example.com")
    asha.refresh_from_db()
    assert asha.suppressed and asha.reach
    # The foreign keys that point at contacts still hold.
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"INSERT INTO {Contact.tags.through._meta.db_table} (contact_id, tag_id) "
                           "VALUES (gen_random_uuid(), %s)", [tag.pk])


def test_a_rebuild_refuses_a_column_list_that_does_not_match_the_table():
    with connection.cursor() as cursor, pytest.raises(RuntimeError, match="names columns the table does not have"):
        LAYOUT.rebuild_in_order(cursor, "audiences_contact", ("tenant_id", "shoe_size"))
