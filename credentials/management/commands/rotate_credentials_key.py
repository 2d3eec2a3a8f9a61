from typing import Any

from django.core.management.base import BaseCommand

from credentials import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential under the newest key in CREDENTIALS_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = services.credentials_rotate()
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {report.checked} encrypted values; re-encrypted {report.rotated} "
                "under the newest key."
            )
        )
