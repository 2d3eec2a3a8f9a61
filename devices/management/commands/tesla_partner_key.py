from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.clients import OAuthNotConfigured, tesla_oauth_client
from devices.partner_key import partner_key_generate, partner_public_key_pem
from devices.providers.tesla import TeslaError


class Command(BaseCommand):
    help = (
        "Show the Tesla partner public key; --generate the private key file first; "
        "--register DOMAIN with Tesla (partner token from TESLA_CLIENT_ID/TESLA_CLIENT_SECRET)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--generate", action="store_true", help="create TESLA_PARTNER_KEY_FILE")
        parser.add_argument(
            "--register",
            metavar="DOMAIN",
            help="register DOMAIN (serving /.well-known/…/com.tesla.3p.public-key.pem) with Tesla",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.TESLA_PARTNER_KEY_FILE)
        if options["generate"]:
            try:
                partner_key_generate(path)
            except FileExistsError as exc:
                raise CommandError(f"{path} exists; refusing to replace a partner key") from exc
            self.stdout.write(self.style.SUCCESS(f"Wrote a new prime256v1 private key to {path}"))
        self.stdout.write(partner_public_key_pem().decode())
        if options["register"]:
            self._register(options["register"])

    def _register(self, domain: str) -> None:
        try:
            oauth = tesla_oauth_client()
            partner = oauth.partner_token()
            account = oauth.register_partner_domain(
                partner_access_token=partner.access_token,
                domain=domain,
                fleet_base_url=settings.TESLA_FLEET_BASE_URL,
            )
        except (OAuthNotConfigured, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except TeslaError as exc:
            raise CommandError(f"Tesla refused the registration: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Registered {domain} with Tesla: {account}"))
