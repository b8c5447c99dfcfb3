"""``python manage.py issue_open311_key NAME``: print a new Open311 API key once."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.services.open311_keys import open311_key_issue


class Command(BaseCommand):
    """Issue an Open311 key for an integrator (revoke it in the admin)."""

    help = (
        "Issue an Open311 API key for an integrator and print it once; only its hash is "
        "stored. Revoke it in the admin (Open311 keys, untick 'active')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who the key is for, e.g. 'Zalo mini app'")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = open311_key_issue(name=options["name"], actor_label="issue_open311_key")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stderr.write(f"New Open311 key for {options['name']} (shown once):")
        self.stdout.write(key)
        self.stderr.write("Clients send it as the api_key parameter of POST requests.")
