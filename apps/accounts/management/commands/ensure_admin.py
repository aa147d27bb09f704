"""Create the first admin user on a fresh install, and say so once.

The password comes from PLAYGROUND_ADMIN_PASSWORD when set; otherwise a random
one is generated and printed: it is never written anywhere else.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin user if there is no superuser yet."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("PLAYGROUND_ADMIN_USERNAME", "admin")
        password = os.environ.get("PLAYGROUND_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                "\nCreated the admin user. Sign in with\n"
                f"    username: {username}\n    password: {password}\n"
                "(shown once; change it in /admin/).\n"
            )
        )
