from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.devrun import (
    ProcessGroup,
    ProcessSpec,
    embedded_redis_spec,
    free_loopback_port,
    simulated_household,
    simulator_environment,
    wait_for_port,
)


class Command(BaseCommand):
    help = (
        "Run web + worker + beat + the Amber listener (and the simulator) together in the "
        "foreground (make run). Ctrl-C stops all."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web listen address")
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="use the upstream URLs from the environment instead of the built-in simulator",
        )
        parser.add_argument("--households", type=int, default=3, help="simulated households")

    def handle(self, *args: Any, **options: Any) -> None:
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "powersync_site.settings")
        env["PYTHONUNBUFFERED"] = "1"
        group = ProcessGroup(env)
        python = sys.executable

        try:
            if "REDIS_URL" not in os.environ and "CELERY_BROKER_URL" not in os.environ:
                port = free_loopback_port()
                settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
                group.start(embedded_redis_spec(port, settings.DATA_DIR))
                if not wait_for_port(port, timeout_seconds=10):
                    group.stop()
                    raise CommandError("the embedded Redis did not start within 10 s")
                env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
                self.stdout.write(
                    f"Embedded Redis on 127.0.0.1:{port} (set REDIS_URL to use your own)"
                )

            seed = [python, "manage.py", "seed_demo"]
            if not options["no_simulator"]:
                control_url = self._start_simulator(
                    group, env, households=options["households"], addr=options["addr"]
                )
                seed += ["--simulator", control_url]
            subprocess.run(seed, env=env, check=True, timeout=120)  # noqa: S603

            celery = [python, "-m", "celery", "-A", "powersync_site"]
            for spec in (
                ProcessSpec(
                    "web", [python, "manage.py", "runserver", options["addr"], "--noreload"]
                ),
                ProcessSpec(
                    "worker",
                    [
                        *celery,
                        "worker",
                        "--queues",
                        "spike,curtail,sync,default",
                        "--pool",
                        "threads",
                        "--concurrency",
                        "4",
                        "--loglevel",
                        "INFO",
                    ],
                ),
                ProcessSpec("beat", [*celery, "beat", "--loglevel", "INFO"]),
                ProcessSpec("listener", [python, "manage.py", "listen_amber"]),
            ):
                group.start(spec)

        except BaseException:
            group.stop()  # nothing started so far outlives a failed start
            raise

        def on_signal(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)  # the terminal closed: stop everything too
        self.stdout.write(
            self.style.SUCCESS(
                f"PowerSync is starting: http://{options['addr']}/admin/ and "
                f"http://{options['addr']}/healthz — Ctrl-C stops everything."
            )
        )
        try:
            role, code = group.wait_any()
            self.stderr.write(f"{role} exited with code {code}; stopping the others.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping…")
        finally:
            group.stop()

    def _start_simulator(
        self, group: ProcessGroup, env: dict[str, str], *, households: int, addr: str
    ) -> str:
        """Start the simulator, point every client at it; return its control URL.

        "Connect Tesla" uses the simulated Tesla app of household 1 (the simulator's OAuth clients
        belong to its households) and redirects back to this web server.
        """
        port = free_loopback_port()
        spec = ProcessSpec(
            "simulator",
            [
                sys.executable,
                "-m",
                "simulator",
                "--port",
                str(port),
                "--households",
                str(households),
            ],
        )
        group.start(spec)
        if not wait_for_port(port, timeout_seconds=20):
            group.stop()
            raise CommandError("the upstream simulator did not start within 20 s")
        base = f"http://127.0.0.1:{port}"
        env.update(simulator_environment(base))
        first = simulated_household(f"{base}/control")
        env.setdefault("TESLA_CLIENT_ID", first["tesla_client_id"])
        env.setdefault("TESLA_CLIENT_SECRET", first["tesla_client_secret"])
        env.setdefault("TESLA_REDIRECT_URI", f"http://{addr}/onboarding/tesla/callback")
        self.stdout.write(f"Upstream simulator on {base} (control API: {base}/control)")
        return f"{base}/control"
