"""``python manage.py issue_token --device CODE`` or ``--gateway CODE``: print a new token once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.models import Device, Gateway
from cameras.services.registry import token_issue


class Command(BaseCommand):
    """Issue a new ingest token (the previous one stops working)."""

    help = (
        "Issue a new ingest token for a device or a gateway and print it once; only its "
        "hash is stored, and the previous token stops working."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--device", metavar="CODE", help="a device code")
        owner.add_argument("--gateway", metavar="CODE", help="a gateway code")

    def handle(self, *args: Any, **options: Any) -> None:
        owner: Device | Gateway
        if options["device"]:
            try:
                owner = Device.objects.select_related("ward").get(code=options["device"])
            except Device.DoesNotExist as exc:
                raise CommandError(f"No device with code {options['device']!r}.") from exc
            scheme = "Device"
        else:
            try:
                owner = Gateway.objects.select_related("ward").get(code=options["gateway"])
            except Gateway.DoesNotExist as exc:
                raise CommandError(f"No gateway with code {options['gateway']!r}.") from exc
            scheme = "Gateway"
        token = token_issue(owner=owner, actor_label="issue_token")
        self.stderr.write(
            f"New token for {scheme.lower()} {owner.code} (shown once; the old one stops working):"
        )
        self.stdout.write(token)
        self.stderr.write(f"Use it as the header:  Authorization: {scheme} {token}")
