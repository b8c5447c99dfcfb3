"""Personal data over time (Law 91/2025/QH15, Decree 356/2025): the reporter's contact
details erased IOC_CONTACT_RETENTION_DAYS after their request ended, and a reporter's own
requests about their data (see it, erase it), proven with the request's private link.

The request, its timeline and its public photos stay, anonymous. Every erasure leaves one
audit entry per request naming the fields erased ("held" before, "erased" after), never
their values, and without the reporter's network address: the audit log is kept for years
and must not become the copy of what was erased.
"""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cameras.services.snapshots import snapshots_prune
from ioc.models import AuditEntry
from ioc.services.audit import audit_entry
from services.choices import EntryKind, PhotoKind, SubjectRequestKind, SubjectRequestOutcome
from services.models import (
    CLIENT_DETAIL_KEYS,
    CONTACT_FIELDS,
    DataSubjectRequest,
    RequestEntry,
    RequestPhoto,
    ServiceRequest,
)
from services.privacy_selectors import client_notes, contacts_due

logger = logging.getLogger(__name__)

HELD = "held"
ERASED = "erased"
# Requests erased per transaction by the retention run.
ERASE_CHUNK = 500
# Who the audit log names for each kind of erasure.
RETENTION_LABEL = "retention"
REPORTER_LABEL = "reporter"


def _erase_locked(
    requests: list[dict[str, Any]],
    *,
    now: datetime,
    by: str,
    reason: str,
    photos: dict[int, int] | None = None,
) -> dict[int, list[str]]:
    """Erase the contact details of ``requests`` (rows already locked, with ``id``,
    ``code``, ``ward__code`` and CONTACT_FIELDS): the fields blanked, an Open311 client's
    note of its reporter emptied, ``contact_erased_at`` set, and for each request that held
    anything a staff-only timeline line and an audit entry. ``photos``: the number of the
    reporter's photos removed from each request, for the same line and entry. Returns the
    names erased per request id."""
    ids = [row["id"] for row in requests]
    erased: dict[int, list[str]] = {
        row["id"]: [name for name in CONTACT_FIELDS if row[name]] for row in requests
    }
    notes = list(client_notes(ids))
    for note in notes:
        keys = sorted(key for key in note.data if key in CLIENT_DETAIL_KEYS)
        erased[note.request_id].extend(f"open311.{key}" for key in keys)
        note.text = ""
        note.data = {"erased": keys}
    RequestEntry.objects.bulk_update(notes, ["text", "data"])
    ServiceRequest.objects.filter(pk__in=ids).update(
        **dict.fromkeys(CONTACT_FIELDS, ""),
        # The first erasure's time stays (a reporter's photos removed later change nothing).
        contact_erased_at=Coalesce(F("contact_erased_at"), Value(now, DateTimeField())),
    )
    entries: list[RequestEntry] = []
    audits: list[AuditEntry] = []
    for row in requests:
        names = erased[row["id"]]
        removed = (photos or {}).get(row["id"], 0)
        if not names and not removed:
            continue  # nothing was held: marked, not recorded as an erasure
        before: dict[str, Any] = dict.fromkeys(names, HELD)
        after: dict[str, Any] = dict.fromkeys(names, ERASED)
        if removed:
            before["photos"], after["photos"] = removed, 0
        entries.append(
            RequestEntry(
                request_id=row["id"],
                at=now,
                kind=EntryKind.ERASED,
                public=False,
                data={"fields": names, "photos": removed, "by": by},
            )
        )
        entry = audit_entry(
            actor=None,
            actor_label=by,
            action="request.contact_erased",
            obj=None,
            object_type=ServiceRequest._meta.label_lower,
            object_id=str(row["id"]),
            object_repr=row["code"],
            before=before,
            after=after,
            ward_code=row["ward__code"],
            reason=reason,
        )
        # Never the reporter's address: the entry outlives the data it speaks of.
        entry.ip_address = None
        entry.at = now
        audits.append(entry)
    RequestEntry.objects.bulk_create(entries)
    AuditEntry.objects.bulk_create(audits)
    return erased


def _locked_rows(queryset: Any) -> list[dict[str, Any]]:
    """The rows an erasure reads, locked for this transaction."""
    return list(
        queryset.select_for_update(of=("self",))
        .order_by("pk")
        .values("id", "code", "ward__code", *CONTACT_FIELDS)
    )


def contacts_erase_due(*, now: datetime | None = None, chunk_size: int = ERASE_CHUNK) -> int:
    """Erase the contact details of every request that ended IOC_CONTACT_RETENTION_DAYS
    ago (``privacy_selectors.contacts_due``), ``chunk_size`` requests per transaction, each
    checked again under its lock (a dispute in between keeps it). Idempotent: an erased
    request is marked and never read again. Returns the number of requests erased."""
    now = now or timezone.now()
    reason = f"IOC_CONTACT_RETENTION_DAYS={settings.IOC_CONTACT_RETENTION_DAYS}"
    done = 0
    while True:
        ids = list(contacts_due(now).order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not ids:
            return done
        with transaction.atomic():
            rows = _locked_rows(contacts_due(now).filter(pk__in=ids))
            if rows:
                _erase_locked(rows, now=now, by=RETENTION_LABEL, reason=reason)
        done += len(rows)
        if done:
            logger.info("contact details erased: %s requests so far", done)


def _subject_request(
    request: ServiceRequest, kind: SubjectRequestKind, now: datetime
) -> DataSubjectRequest:
    row = DataSubjectRequest(request=request, kind=kind, asked_at=now)
    row.full_clean(exclude=["outcome"])
    return row


def _subject_audit(row: DataSubjectRequest, action: str, after: dict[str, Any]) -> None:
    entry = audit_entry(
        actor=None,
        actor_label=REPORTER_LABEL,
        action=action,
        obj=row,
        object_repr=f"{row.request.code} {row.kind}",
        after=after,
        ward_code=row.request.ward.code,
    )
    entry.ip_address = None
    entry.save()


@transaction.atomic
def subject_access_record(*, request: ServiceRequest, answer_format: str) -> DataSubjectRequest:
    """A reporter, proven by their private link, was shown what is held about them for
    ``request`` (``answer_format``: "page" or "json"): recorded, answered at once, audited."""
    now = timezone.now()
    row = _subject_request(request, SubjectRequestKind.ACCESS, now)
    row.answered_at = now
    row.outcome = SubjectRequestOutcome.ANSWERED
    row.details = {"format": answer_format}
    row.save()
    _subject_audit(row, "request.subject_access", {"format": answer_format})
    return row


@transaction.atomic
def subject_erase(*, request: ServiceRequest, photos: bool) -> DataSubjectRequest:
    """A reporter, proven by their private link, asks for their contact details (and, with
    ``photos``, the photos they sent) to be erased: done at once, whatever the request's
    state (an open request then goes on without telling them of its progress). Their
    photos' rows go now and the files after commit; photos staff took of the work stay.
    Recorded as a DataSubjectRequest and audited: the erasure's entry names the fields and
    the number of photos, the request's entry what was asked."""
    now = timezone.now()
    kind = SubjectRequestKind.ERASURE_PHOTOS if photos else SubjectRequestKind.ERASURE
    row = _subject_request(request, kind, now)
    row.save()
    locked = _locked_rows(ServiceRequest.objects.filter(pk=request.pk))
    removed: list[RequestPhoto] = []
    if photos:
        removed = list(
            RequestPhoto.objects.select_for_update().filter(request=request, kind=PhotoKind.REPORT)
        )
        RequestPhoto.objects.filter(pk__in=[photo.pk for photo in removed]).delete()
        names = [
            name for photo in removed for name in (photo.image.name, photo.thumbnail.name) if name
        ]
        transaction.on_commit(lambda: _files_delete(names))
    erased = _erase_locked(
        locked,
        now=now,
        by=REPORTER_LABEL,
        reason=f"data-subject request {row.pk}",
        photos={request.pk: len(removed)},
    ).get(request.pk, [])
    row.answered_at = now
    row.outcome = (
        SubjectRequestOutcome.ERASED if erased or removed else SubjectRequestOutcome.NOTHING_HELD
    )
    row.details = {"fields": erased, "photos": len(removed)}
    row.save(update_fields=["answered_at", "outcome", "details"])
    _subject_audit(row, "request.subject_erasure", {"outcome": row.outcome, **row.details})
    return row


def _files_delete(names: list[str]) -> None:
    """Delete stored files once the rows that named them are gone (after commit)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("photo file %s could not be deleted", name, exc_info=True)


def sessions_clear_expired(*, chunk_size: int = 5000) -> int:
    """Delete expired browser sessions, ``chunk_size`` at a time. A portal session names
    the requests its browser filed or proved to be the reporter of, a staff session its
    account; Django leaves expired ones in the table until something removes them."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
        return 0
    now = timezone.now()
    done = 0
    while keys := list(
        Session.objects.filter(expire_date__lt=now).values_list("pk", flat=True)[:chunk_size]
    ):
        done += Session.objects.filter(pk__in=keys).delete()[0]
    return done


def privacy_retention_run() -> dict[str, int]:
    """The retention's hourly run: contact details due, camera snapshots no camera keeps,
    expired sessions. One failing does not stop the others (each is tried again at the
    next run)."""
    done: dict[str, int] = {}
    jobs = (
        ("contacts_erased", contacts_erase_due),
        ("snapshots_removed", snapshots_prune),
        ("sessions_cleared", sessions_clear_expired),
    )
    for name, job in jobs:
        try:
            done[name] = job()
        except Exception:
            logger.exception("retention: %s failed; tried again at the next run", name)
            done[name] = -1
    return done
