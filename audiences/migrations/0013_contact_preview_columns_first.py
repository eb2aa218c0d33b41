"""Rebuild audiences_contact with the columns segments and the preview read placed first.

PostgreSQL stores a row's columns in the order they were created and, to read one column, walks
every column before it. Django had put tenant_id, reach and suppressed (read by every preview)
behind the names, email, phone and the other text columns, so a preview that scans the tenant
decoded nearly the whole row of each contact: 360 ms of CPU per million contacts for the scan
alone, against 150 ms once the columns a segment reads come first (fixed-width ones, then the
short texts rules compare, then the rest). PostgreSQL cannot reorder columns in place: the table is
recreated and refilled, and every index, constraint, trigger, grant and foreign key pointing at
it is recreated from the catalog's own definitions.

It takes an exclusive lock for the copy and the indexes (about 20 s per million contacts). A
column added by a later migration goes to the end of the row, which is right for anything
segments don't read. PostgreSQL only; SQLite has no such cost."""

from django.db import migrations

TABLE = "audiences_contact"
# The preview's GROUP BY and the tenant filter first, the rules' columns next. Fixed-width NOT
# NULL columns lead because PostgreSQL can jump straight to them; the rest keep their order.
LEADING = (
    "tenant_id", "created_at", "updated_at", "id", "suppressed", "has_push", "reach",
    "last_active_at", "whatsapp_last_inbound_at",
    "role", "consent_email", "consent_push", "consent_sms", "consent_whatsapp", "consent_telegram",
    "consent_voice", "city", "pincode", "attributes",
)


def _rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def rebuild_in_order(cursor, table: str, leading: tuple[str, ...]) -> None:
    """Recreate `table` with the `leading` columns first, keeping its rows, every object on it and
    the privileges granted on it."""
    # Deferred foreign-key checks still pending in this transaction would block the DROP.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    oid = _rows(cursor, "SELECT %s::regclass::oid", [table])[0][0]
    columns = _rows(cursor, """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated,
               pg_get_expr(d.adbin, d.adrelid), a.attcollation <> t.typcollation
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", [oid])
    # Anything this function would not recreate stops it rather than being lost.
    blockers = _rows(cursor, """
        SELECT 'view ' || r.ev_class::regclass FROM pg_rewrite r JOIN pg_depend d ON d.objid = r.oid
         WHERE d.refobjid = %(t)s AND r.ev_class <> %(t)s
        UNION ALL SELECT 'policy ' || polname FROM pg_policy WHERE polrelid = %(t)s
        UNION ALL SELECT 'statistics ' || stxname FROM pg_statistic_ext WHERE stxrelid = %(t)s""", {"t": oid})
    blockers += [(f"collation of {name}",) for name, *_, custom_collation in columns if custom_collation]
    if blockers:
        raise RuntimeError(f"cannot rebuild {table}: {', '.join(b[0] for b in blockers)}")
    order = [name for name in leading] + [c[0] for c in columns if c[0] not in leading]
    by_name = {c[0]: c for c in columns}
    if sorted(order) != sorted(by_name):
        raise RuntimeError(f"{table}: the column list {leading} names columns the table does not have")

    constraints = _rows(cursor, """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s
         ORDER BY contype = 'f', conname""", [oid])  # the primary key before foreign keys
    indexes = _rows(cursor, """
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
         WHERE i.indrelid = %s
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)
         ORDER BY i.indexrelid""", [oid])
    triggers = _rows(cursor, "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal "
                             "ORDER BY tgname", [oid])
    grants = _rows(cursor, """
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
               a.privilege_type
          FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s AND a.grantee <> c.relowner""", [oid])
    inbound = _rows(cursor, """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
         WHERE confrelid = %s AND conrelid <> confrelid AND contype = 'f' ORDER BY conname""", [oid])

    definitions = []
    for name in order:
        _, type_sql, not_null, generated, expression, _ = by_name[name]
        if generated == "s":
            definitions.append(f'"{name}" {type_sql} GENERATED ALWAYS AS ({expression}) STORED')
        else:
            default = f" DEFAULT {expression}" if expression is not None else ""
            definitions.append(f'"{name}" {type_sql}{" NOT NULL" if not_null else ""}{default}')
    copied = ", ".join(f'"{name}"' for name in order if by_name[name][3] != "s")

    for referrer, name, _ in inbound:
        cursor.execute(f'ALTER TABLE {referrer} DROP CONSTRAINT "{name}"')
    cursor.execute(f"CREATE TABLE {table}__rebuilt ({', '.join(definitions)})")
    cursor.execute(f"INSERT INTO {table}__rebuilt ({copied}) SELECT {copied} FROM {table}")
    cursor.execute(f"DROP TABLE {table}")
    cursor.execute(f"ALTER TABLE {table}__rebuilt RENAME TO {table}")
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for (definition,) in indexes + triggers:
        cursor.execute(definition)
    for referrer, name, definition in inbound:
        cursor.execute(f'ALTER TABLE {referrer} ADD CONSTRAINT "{name}" {definition}')
    for grantee, privilege in grants:
        cursor.execute(f"GRANT {privilege} ON {table} TO {grantee}")
    cursor.execute(f"ANALYZE {table}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        rebuild_in_order(cursor, TABLE, LEADING)


class Migration(migrations.Migration):

    dependencies = [
        ("audiences", "0012_contact_search_one_trigram_index"),
    ]

    # Backwards there is nothing to undo: the column order changes no query's meaning.
    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
