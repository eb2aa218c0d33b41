"""Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS.

Key rotation, step by step:
  1. FIELD_ENCRYPTION_KEYS="<new>,<old>"   (new first; both decrypt)
  2. python manage.py rotate_secrets       (everything is now encrypted with <new>)
  3. FIELD_ENCRYPTION_KEYS="<new>"         (the old key can be destroyed)

All tenants are rotated in one transaction: either every secret moves to the new key or, if
one cannot be decrypted with any configured key, nothing changes and the command fails.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from channels.crypto import DecryptionError, EncryptedSecretsMixin, rotate_token
from tenants.scoping import scopes_disabled

BATCH = 500


def encrypted_models() -> list[type]:
    return [m for m in apps.get_models() if issubclass(m, EncryptedSecretsMixin)]


def rotate_model(model, *, batch: int = BATCH) -> int:
    """Rotate one model's secrets in primary-key batches; return how many rows changed."""
    changed = 0
    last_pk = None
    while True:
        rows = model.objects.exclude(secrets_ciphertext="").order_by("pk")
        if last_pk is not None:
            rows = rows.filter(pk__gt=last_pk)
        page = list(rows.only("pk", "secrets_ciphertext")[:batch])
        if not page:
            return changed
        for row in page:
            try:
                row.secrets_ciphertext = rotate_token(row.secrets_ciphertext)
            except DecryptionError as exc:
                raise CommandError(f"{model._meta.label} {row.pk}: {exc} Nothing was changed.") from None
        model.objects.bulk_update(page, ["secrets_ciphertext"])
        changed += len(page)
        last_pk = page[-1].pk


class Command(BaseCommand):
    help = "Re-encrypt all channel and social account credentials under the first FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH)

    def handle(self, *args, **options) -> None:
        total = 0
        with scopes_disabled(), transaction.atomic():
            for model in encrypted_models():
                count = rotate_model(model, batch=options["batch_size"])
                total += count
                self.stdout.write(f"{model._meta.label}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(
            f"{total} secrets now use the first key; keys after it can be removed from FIELD_ENCRYPTION_KEYS."
        ))
