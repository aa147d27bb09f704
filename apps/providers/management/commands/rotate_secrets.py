"""Re-encrypt every stored secret under the newest key in FERNET_KEYS.

Key rotation: put the new key first in FERNET_KEYS (keep the old one after
it), restart, run this command, then drop the old key.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.providers import crypto
from apps.providers.fields import EncryptedTextField


def encrypted_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def rotate_column(model, field):
    """Rotate one column in SQL: loading model instances would decrypt, and
    saving them would touch `updated` and fire signals for no real change."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)
    pk = quote(model._meta.pk.column)
    rotated = unreadable = 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''")
        for row_pk, token in cursor.fetchall():
            try:
                new_token = crypto.rotate(token)
            except crypto.SecretUnreadable:
                unreadable += 1
                continue
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [new_token, row_pk])
            rotated += 1
    return rotated, unreadable


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (API keys, headers) with the newest FERNET_KEYS key."

    def handle(self, *args, **options):
        total_rotated = total_unreadable = 0
        with transaction.atomic():
            for model, field in encrypted_columns():
                rotated, unreadable = rotate_column(model, field)
                total_rotated += rotated
                total_unreadable += unreadable
                line = f"{model._meta.label}.{field.name}: {rotated} re-encrypted"
                if unreadable:
                    line += f", {unreadable} unreadable"
                self.stdout.write(line)
        self.stdout.write(f"{total_rotated} secrets re-encrypted with the newest key.")
        if total_unreadable:
            # The readable ones are rotated (committed above); fail so a
            # script does not go on to drop the old key.
            raise CommandError(
                f"{total_unreadable} stored secrets cannot be decrypted with any of "
                "FERNET_KEYS; they were left as they are. Enter them again in the admin."
            )
