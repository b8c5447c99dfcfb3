"""Citizen services: categories, requests (phản ánh), their photos and timeline, the
announced exceptions to the working calendar and Open311 keys.

A reporter's name, phone and email are stored on the request and never leave the staff
side: public pages, the public API and Open311 read through selectors that omit them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioc.models import Department, Incident, TimelineEntry, Ward
from services.choices import (
    EntryKind,
    PhotoKind,
    RequestLevel,
    RequestSource,
    RequestStatus,
    SubjectRequestKind,
    SubjectRequestOutcome,
)

OPEN_STATUSES = (
    RequestStatus.NEW,
    RequestStatus.TRIAGED,
    RequestStatus.ASSIGNED,
    RequestStatus.IN_PROGRESS,
    RequestStatus.REOPENED,
)

# The reporter's personal data on a request: erased together, by the retention or at the
# reporter's request (services.services.privacy), and listed by the processing record the
# administrator reads (services.privacy_selectors). The key's hash goes with them: once the
# contact is gone nobody can prove to be the reporter, so nobody may act as them.
CONTACT_FIELDS = ("reporter_name", "reporter_phone", "reporter_email", "reporter_key_hash")
# What an Open311 client may say of its reporter (a staff-only timeline note, in its data):
# erased with the contact details.
CLIENT_DETAIL_KEYS = ("device_id", "account_id", "media_url")


class ServiceGroup(models.Model):
    """A field that groups categories on the portal (giao thông, môi trường…)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("field")
        verbose_name_plural = _("fields")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class ServiceCategory(models.Model):
    """What a citizen can report (an Open311 service): who handles it and how fast."""

    code = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Open311 service_code")
    )
    name = models.CharField(_("name"), max_length=160)
    description = models.TextField(_("description"), blank=True)
    group = models.ForeignKey(
        ServiceGroup, verbose_name=_("field"), on_delete=models.PROTECT, related_name="categories"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("handling department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text=_("Empty: the ward of the place handles it"),
    )
    deadline_hours = models.PositiveSmallIntegerField(_("deadline (working hours)"), default=40)
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    questions = models.JSONField(
        _("extra questions"),
        default=list,
        blank=True,
        help_text=_(
            'Open311 attributes: [{"code": "...", "description": "...", "datatype": '
            '"string|number|datetime|text|singlevaluelist|multivaluelist", "required": true, '
            '"values": [{"key": "...", "name": "..."}]}]'
        ),
    )
    legal_process = models.BooleanField(
        _("complaint or denunciation"),
        default=False,
        help_text=_("Filed under the law on complaints and denunciations, not on this portal"),
    )
    legal_notice = models.TextField(
        _("where to file instead"), blank=True, help_text=_("Shown instead of the form")
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["group__position", "position", "name"]

    def __str__(self) -> str:
        return self.name


class ResponseTemplate(models.Model):
    """A ready answer staff can start from, per category."""

    category = models.ForeignKey(
        ServiceCategory,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        related_name="templates",
    )
    title = models.CharField(_("title"), max_length=120)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("response template")
        verbose_name_plural = _("response templates")
        ordering = ["category", "title"]

    def __str__(self) -> str:
        return self.title


class TrackingCounter(models.Model):
    """The last tracking number given in a year (PA-<year>-<number>), taken under lock."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("tracking counter")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ServiceRequest(models.Model):
    """One citizen report: what, where, who handles it, by when, and how it ended."""

    code = models.CharField(_("tracking code"), max_length=20, unique=True)
    category = models.ForeignKey(
        ServiceCategory,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="requests",
    )
    description = models.TextField(_("description"))
    answers = models.JSONField(_("answers to the extra questions"), default=dict, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    address = models.CharField(_("place"), max_length=250, blank=True)
    ward = models.ForeignKey(Ward, verbose_name=_("ward"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.NEW
    )
    level = models.CharField(
        _("level"), max_length=16, choices=RequestLevel.choices, default=RequestLevel.UNIT
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("handling department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
        help_text=_("Empty: the ward handles it"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_requests",
    )
    source = models.CharField(
        _("source"), max_length=16, choices=RequestSource.choices, default=RequestSource.PORTAL
    )
    # Private: never on a public page, the public API or Open311.
    reporter_name = models.CharField(_("reporter's name"), max_length=120, blank=True)
    reporter_phone = models.CharField(_("reporter's phone"), max_length=20, blank=True)
    reporter_email = models.EmailField(_("reporter's email"), blank=True)
    # The reporter's key (the private link given at filing) lets its holder rate or
    # dispute; the tracking code only reads. Its SHA-256 only (``ioc.tokens``); empty for
    # requests filed before keys existed, which nobody can rate or dispute on the portal.
    reporter_key_hash = models.CharField(_("reporter's key hash"), max_length=64, blank=True)
    # When the reporter's contact details (CONTACT_FIELDS) were erased: by the retention
    # (IOC_CONTACT_RETENTION_DAYS after the request ended) or at the reporter's request.
    contact_erased_at = models.DateTimeField(_("contact details erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    deadline_at = models.DateTimeField(_("deadline"))
    deadline_warned_at = models.DateTimeField(_("deadline warning sent"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
    )
    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    api_client = models.ForeignKey(
        "services.Open311Key",
        verbose_name=_("Open311 client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )

    class Meta:
        verbose_name = _("citizen request")
        verbose_name_plural = _("citizen requests")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ward", "status"], name="request_ward_status"),
            models.Index(fields=["department", "status"], name="request_department_status"),
            # The KPIs read these three ranges from the index alone (PostgreSQL's covering
            # indexes; the columns a ward or department scope filters on are included).
            models.Index(
                fields=["deadline_at"],
                name="request_open_deadline",
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                include=["ward", "department", "merged_into"],
            ),
            models.Index(fields=["latitude", "longitude"], name="request_place"),
            models.Index(
                fields=["resolved_at"],
                name="request_resolved_at",
                include=["created_at", "deadline_at", "ward", "department", "merged_into"],
            ),
            models.Index(
                fields=["rated_at"],
                name="request_rated_at",
                include=["rating", "ward", "department", "merged_into"],
            ),
            # The retention's look for contact details due (services.privacy_selectors)
            # reads only the requests that still hold them.
            models.Index(
                fields=["status", "closed_at", "resolved_at"],
                name="request_contact_held",
                condition=Q(contact_erased_at__isnull=True),
            ),
        ]

    # The reporter's key itself, on the instance ``request_create`` returns (to show once on
    # the "sent" page, in the filing e-mail and Open311's answer); never stored.
    reporter_key: str = ""

    def __str__(self) -> str:
        return f"{self.code} {self.category}"

    @property
    def is_open(self) -> bool:
        """Whether someone still has to act on it."""
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        """Open past its deadline."""
        return self.is_open and self.deadline_at < timezone.now()


def photo_path(photo: RequestPhoto, filename: str) -> str:
    """Where a photo is stored: by request and kind, with a random name (no user text)."""
    return f"requests/{timezone.localdate():%Y/%m}/{filename}"


class RequestPhoto(models.Model):
    """A photo of a request: re-encoded without EXIF, in a display and a thumbnail size."""

    request = models.ForeignKey(
        ServiceRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="photos"
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=PhotoKind.choices, default=PhotoKind.REPORT
    )
    image = models.ImageField(
        _("image"), upload_to=photo_path, width_field="width", height_field="height"
    )
    thumbnail = models.ImageField(_("thumbnail"), upload_to=photo_path)
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    created_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["created_at", "id"]
        # A photo is served only when its exact stored name is found here (services.views).
        indexes = [
            models.Index(fields=["image"], name="request_photo_image"),
            models.Index(fields=["thumbnail"], name="request_photo_thumbnail"),
        ]

    def __str__(self) -> str:
        return str(self.image.name)


class RequestEntry(TimelineEntry):
    """One line of a request's timeline; ``public`` ones the citizen sees (never notes)."""

    request = models.ForeignKey(
        ServiceRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="timeline"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind.choices)
    public = models.BooleanField(_("public"), default=True)

    class Meta(TimelineEntry.Meta):
        pass


class DataSubjectRequest(models.Model):
    """A reporter's request about their personal data (Law 91/2025/QH15): to see what is
    held for one of their requests, or to have it erased; proven with the request's private
    link, answered at once, and recorded here (never the data itself) and in the audit log."""

    request = models.ForeignKey(
        ServiceRequest,
        verbose_name=_("request"),
        on_delete=models.PROTECT,
        related_name="subject_requests",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SubjectRequestKind.choices)
    asked_at = models.DateTimeField(_("asked at"), default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=SubjectRequestOutcome.choices, blank=True
    )
    # What was done, by name: the fields erased, the number of photos removed, the format
    # an access was answered in. Never a value.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["-asked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.asked_at:%Y-%m-%d %H:%M} {self.kind} {self.request_id}"


class Holiday(models.Model):
    """A day the government's yearly announcement sets apart from the statutory calendar:
    an extra day off (a bridge day, a day off in lieu), a weekend day worked to make up for
    one, or, if ever needed, a statutory day off that is worked after all.

    The statutory days off themselves (Tết, national days) come from the ``holidays``
    package (``services.holidays``) and are not entered here.
    """

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    is_working_day = models.BooleanField(
        _("working day"),
        default=False,
        help_text=_(
            "Ticked: the day is worked (a weekend day worked to make up for a bridge day, "
            "or a statutory day off that is moved). Unticked: an extra day off."
        ),
    )

    class Meta:
        verbose_name = _("announced day off or working day")
        verbose_name_plural = _("announced days off and working days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} {self.name}"


class Open311Key(models.Model):
    """An integrator's API key for filing requests through Open311 (stored hashed)."""

    name = models.CharField(_("name"), max_length=120)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("Open311 key")
        verbose_name_plural = _("Open311 keys")

    def __str__(self) -> str:
        return self.name
