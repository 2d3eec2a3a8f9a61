from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "credentials"
    verbose_name = "Credentials (encrypted)"

    def ready(self) -> None:
        from credentials import checks  # noqa: F401  (registers the start-up checks)
