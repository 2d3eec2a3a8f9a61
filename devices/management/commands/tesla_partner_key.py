from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.partner_key import partner_key_generate, partner_public_key_pem


class Command(BaseCommand):
    help = "Show the Tesla partner public key, or --generate the private key file first."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--generate", action="store_true", help="create TESLA_PARTNER_KEY_FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.TESLA_PARTNER_KEY_FILE)
        if options["generate"]:
            try:
                partner_key_generate(path)
            except FileExistsError as exc:
                raise CommandError(f"{path} exists; refusing to replace a partner key") from exc
            self.stdout.write(self.style.SUCCESS(f"Wrote a new prime256v1 private key to {path}"))
        self.stdout.write(partner_public_key_pem().decode())
