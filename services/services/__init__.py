"""Writes of citizen services (house rule 2), one module per subject: ``filing``,
``workflow`` (staff), ``rating`` (the citizen), ``deadlines`` (the sweep),
``incident_links``, ``open311_keys``; ``notify`` (live event and e-mail, after commit) and
``common`` are the steps they share. Reads, including a request's live data
(``selectors.request_data``), are in ``services.selectors``."""

from services.services.deadlines import requests_deadline_sweep
from services.services.filing import (
    answers_clean,
    photos_prepare,
    request_create,
    tracking_code_next,
)
from services.services.incident_links import request_incident_link, request_incident_open
from services.services.notify import tracking_url
from services.services.open311_keys import open311_key_issue
from services.services.rating import request_dispute, request_rate
from services.services.workflow import (
    TRANSITIONS,
    request_answer,
    request_assign,
    request_close,
    request_merge,
    request_note,
    request_reject,
    request_reopen,
    request_resolve,
    request_start,
    request_triage,
)

__all__ = [
    "TRANSITIONS",
    "answers_clean",
    "open311_key_issue",
    "photos_prepare",
    "request_answer",
    "request_assign",
    "request_close",
    "request_create",
    "request_dispute",
    "request_incident_link",
    "request_incident_open",
    "request_merge",
    "request_note",
    "request_rate",
    "request_reject",
    "request_reopen",
    "request_resolve",
    "request_start",
    "request_triage",
    "requests_deadline_sweep",
    "tracking_code_next",
    "tracking_url",
]
