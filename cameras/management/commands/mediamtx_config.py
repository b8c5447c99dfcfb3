"""``python manage.py mediamtx_config --output deploy/mediamtx.yml``: MediaMTX's configuration
for the registry's cameras (``cameras.video.mediamtx``), MediaMTX enforcing the platform's
stream tokens. The file holds the cameras' credentials: it is written readable by its owner
only; run the command again after cameras are added or changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from cameras.video.mediamtx import mediamtx_config


class Command(BaseCommand):
    """Write MediaMTX's configuration for the platform's cameras."""

    help = (
        "Write a MediaMTX configuration serving the registry's cameras, with MediaMTX "
        "checking the platform's stream tokens against its published keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--platform-url",
            default=settings.IOC_PUBLIC_URL,
            help="where MediaMTX reaches the platform's /.well-known/jwks.json "
            "(default: %(default)s)",
        )
        parser.add_argument(
            "--allow-origin",
            action="append",
            dest="origins",
            help="an origin of the platform's pages allowed to play "
            "(repeatable; default: the platform URL)",
        )
        parser.add_argument(
            "--close-after",
            type=int,
            default=60,
            help="seconds a camera stays pulled after its last reader (default: %(default)s)",
        )
        parser.add_argument(
            "--output",
            "-o",
            help="the file to write (mode 0600); standard output without it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["close_after"] < 1:
            raise CommandError(_("--close-after must be at least one second."))
        platform_url = options["platform_url"].rstrip("/")
        if not platform_url.startswith(("http://", "https://")):
            raise CommandError(_("--platform-url must be an http:// or https:// address."))
        config = mediamtx_config(
            platform_url=platform_url,
            issuer=settings.IOC_VIDEO_TOKEN_ISSUER,
            allow_origins=options["origins"] or [platform_url],
            close_after_seconds=options["close_after"],
        )
        header = (
            f"MediaMTX for the platform's cameras, written by `manage.py mediamtx_config` at "
            f"{timezone.localtime():%d/%m/%Y %H:%M}.\n"
            "It holds the cameras' credentials: keep it readable by MediaMTX only.\n"
            "Tokens: the platform's (GET /ops/devices/<code>/stream), verified here."
        )
        text = config.text(header=header)
        output = options["output"]
        if output:
            path = Path(output)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
            paths = len(config.settings["paths"])
            self.stdout.write(
                _("Wrote %(path)s: %(paths)d stream paths of %(cameras)d cameras.")
                % {"path": path, "paths": paths, "cameras": paths // 2}
            )
        else:
            self.stdout.write(text, ending="")
        for code, reason in config.skipped.items():
            self.stderr.write(
                _("Left out %(code)s: its stream cannot be pulled (%(reason)s).")
                % {"code": code, "reason": reason}
            )
