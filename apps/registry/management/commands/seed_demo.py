"""`manage.py seed_demo`: load the demo teams, people and MLflow models (idempotent)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from apps.registry import demo


class Command(BaseCommand):
    help = ("Create the demo teams (recsys, search), people (ada, vera, grace, linus) and real MLflow models "
            "with versions, imported into Slipway. Safe to re-run: existing data is kept and nothing is added twice.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--banner", metavar="URL", default="",
                            help="Afterwards print where the portal runs (URL) and the demo logins.")

    def handle(self, *args, banner: str = "", **options) -> None:
        started = time.perf_counter()
        self.stdout.write("Seeding demo data …")
        report = demo.seed_as_cli(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready in {time.perf_counter() - started:.1f} s: "
                                             f"{report.summary()}."))
        if banner:
            self.stdout.write("\n" + demo.banner(banner) + "\n")
