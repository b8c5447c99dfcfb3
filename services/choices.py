"""Choice lists of citizen services."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestStatus(models.TextChoices):
    """Life of a citizen request (Open311 maps these to open/closed)."""

    NEW = "new", _("Received")
    TRIAGED = "triaged", _("Triaged")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    REOPENED = "reopened", _("Reopened")


class RequestSource(models.TextChoices):
    """Where a request came in."""

    PORTAL = "portal", _("Public portal")
    OPEN311 = "open311", _("Open311 client")
    STAFF = "staff", _("Entered by staff")


class RequestLevel(models.TextChoices):
    """Who answers for the request: the ward or unit first, the city when escalated."""

    UNIT = "unit", _("Handling unit")
    SUPERVISING = "supervising", _("Supervising level")


class EntryKind(models.TextChoices):
    """What one line of a request's timeline records."""

    RECEIVED = "received", _("Received")
    TRIAGED = "triaged", _("Triaged")
    ASSIGNED = "assigned", _("Assigned")
    STARTED = "started", _("Work started")
    ANSWER = "answer", _("Answer")
    NOTE = "note", _("Internal note")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    REOPENED = "reopened", _("Reopened")
    DISPUTED = "disputed", _("Disputed by the citizen")
    RATED = "rated", _("Rated")
    MERGED = "merged", _("Merged")
    ESCALATED = "escalated", _("Escalated")
    DEADLINE = "deadline", _("Deadline warning")
    MOVED = "moved", _("Moved to another unit")
    ERASED = "erased", _("Personal data erased")


class PhotoKind(models.TextChoices):
    """Whose photo: the citizen's report, or staff's proof of the work done."""

    REPORT = "report", _("Report")
    AFTER = "after", _("After the work")


class SubjectRequestKind(models.TextChoices):
    """What a reporter asked about the personal data held for their request."""

    ACCESS = "access", _("See what is held")
    ERASURE = "erasure", _("Erase contact details")
    ERASURE_PHOTOS = "erasure_photos", _("Erase contact details and photos")


class SubjectRequestOutcome(models.TextChoices):
    """How a data-subject request was answered."""

    ANSWERED = "answered", _("Answered: what is held was shown")
    ERASED = "erased", _("Erased")
    NOTHING_HELD = "nothing_held", _("Nothing left to erase")
