"""What a live video element says (``cameras/static/cameras/live_video.js``), translated on
the server: its states and why a stream cannot be played, by the relay's reason codes."""

from __future__ import annotations

from django.utils.translation import gettext as _

# A refused stream token, whatever the cause: the element asks for a new address.
TOKEN_REASONS = ("expired", "path", "signature", "audience", "issuer", "malformed", "user")


def video_labels() -> dict[str, object]:
    """The labels, in the active language."""
    address = _("the viewing address expired: a new one is being asked for")
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "stalled": _("The picture stopped: reconnecting…"),
        "unavailable": _("Cannot play: %(reason)s"),
        "showSub": _("Watch the sub-stream"),
        "showMain": _("Watch the main stream"),
        "transcoded": _("Transcoded to H.264 by the platform"),
        "reasons": {
            "unauthorized": _("the camera refused its username or password"),
            "refused": _("the camera refused the connection"),
            "not_found": _("the camera has no such stream"),
            "timeout": _("the camera did not answer"),
            "unreachable": _("the camera cannot be reached"),
            "invalid": _("the stream cannot be read"),
            "ended": _("the stream stopped"),
            "failed": _("the stream failed"),
            "not_rtsp": _("the camera's stream address is not RTSP"),
            "outside_network": _("the camera's address is outside the device networks"),
            "no_stream": _("the camera has no stream address"),
            "no_relay": _("the video relay is not available"),
            "media_server_refused": _(
                "the media server refused the viewing address: trying again shortly"
            ),
            "hevc": _("this browser cannot play H.265: watch the sub-stream"),
            "busy": _(
                "the platform is transcoding as many cameras as it may: watch the sub-stream"
            ),
            "unsupported": _("this browser cannot play live video"),
            "scope": _("you may no longer watch this camera"),
            "not_allowed": _("you may not watch this camera"),
            **dict.fromkeys(TOKEN_REASONS, address),
        },
    }
