"""Filing a request (the portal's form, Open311's POST, staff on a citizen's behalf): its
tracking code, the answers to its category's questions, its photos."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc import geo
from ioc.models import User, Ward
from ioc.text import text_clean as _text
from ioc.tokens import secret_hash, secret_new
from services.choices import EntryKind, PhotoKind, RequestSource
from services.models import Open311Key, ServiceCategory, ServiceRequest, TrackingCounter
from services.photos import MAX_PHOTOS, PreparedPhoto, photo_prepare
from services.services.common import audit, deadline_after, entry_add, photo_save
from services.services.notify import reporter_key_send, request_publish


def tracking_code_next(year: int) -> str:
    """The next tracking code of ``year`` (PA-2026-000123), gap-free within committed work."""
    counter, _created = TrackingCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"PA-{year}-{counter.last:06d}"


def answers_clean(category: ServiceCategory, raw: dict[str, Any]) -> dict[str, Any]:
    """The answers to the category's extra questions, checked against their definitions."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in category.questions or []:
        code = str(question.get("code", ""))
        value = raw.get(code)
        values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        allowed = {str(option.get("key")) for option in question.get("values") or []}
        datatype = question.get("datatype", "string")
        if not values:
            if question.get("required"):
                errors[code] = _("Answer: %(q)s") % {"q": question.get("description", code)}
            continue
        if datatype == "multivaluelist":
            if allowed and not {str(v) for v in values} <= allowed:
                errors[code] = _("Choose from the list.")
            answers[code] = [str(v)[:200] for v in values]
        elif datatype == "singlevaluelist":
            if allowed and str(values[0]) not in allowed:
                errors[code] = _("Choose from the list.")
            answers[code] = str(values[0])[:200]
        elif datatype == "number":
            try:
                number = float(str(values[0]).replace(",", "."))
            except ValueError:
                number = math.nan
            if math.isfinite(number):  # NaN and infinity are not JSON (PostgreSQL refuses them)
                answers[code] = number
            else:
                errors[code] = _("Write a number.")
        else:
            answers[code] = str(values[0]).replace("\x00", "")[:1000]
    if errors:
        raise ValidationError(errors)
    return answers


def _filing_place(
    category: ServiceCategory, latitude: Decimal | float, longitude: Decimal | float
) -> str:
    """The ward code of the pin, once the category may be filed here and the pin is a
    place in the city; ValidationError otherwise."""
    if not category.is_active:
        raise ValidationError({"category": _("This category is no longer in use.")})
    if category.legal_process:
        raise ValidationError(
            {"category": category.legal_notice or _("This is not filed on this portal.")}
        )
    try:
        geo.check_lon_lat(float(longitude), float(latitude))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"location": _("The place on the map is not valid.")}) from exc
    ward_code = geo.ward_for_point(longitude, latitude)
    if ward_code is None:
        raise ValidationError(
            {
                "location": _(
                    "No unit on the map covers this place: put the pin inside the area the map "
                    "shows."
                )
            }
        )
    return ward_code


def _client_note(
    request: ServiceRequest, actor: User | None, client_details: Mapping[str, str] | None
) -> None:
    """What an Open311 client says of its reporter and media, as a staff-only note."""
    details = {
        name: _text(str(value), name, required=False, limit=1000)
        for name, value in (client_details or {}).items()
        if value
    }
    if details:
        text = "\n".join(f"{name}: {value}" for name, value in details.items())
        entry_add(request, EntryKind.NOTE, actor=actor, text=text, public=False, data=details)


@transaction.atomic
def request_create(
    *,
    category: ServiceCategory,
    description: str,
    latitude: Decimal | float,
    longitude: Decimal | float,
    address: str = "",
    answers: dict[str, Any] | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    photos: Iterable[PreparedPhoto] = (),
    source: RequestSource = RequestSource.PORTAL,
    api_client: Open311Key | None = None,
    client_details: Mapping[str, str] | None = None,
    actor: User | None = None,
) -> ServiceRequest:
    """File a request: its ward from the pin (a pin outside the city is refused), its
    handling unit and working-hours deadline from the category; the photos are already
    checked (``photo_prepare``). ``client_details`` (what an Open311 client says of its
    reporter and media: device_id, account_id, media_url) go to a staff-only timeline
    note. Publishes ``request.created``. The returned request carries the reporter's key
    (``reporter_key``, only its hash is stored), also e-mailed to the reporter if they
    gave an address: the key, not the public tracking code, lets them rate or dispute."""
    ward_code = _filing_place(category, latitude, longitude)
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)s photos.") % {"n": MAX_PHOTOS}})
    now = timezone.now()
    key = secret_new()
    request = ServiceRequest(
        code=tracking_code_next(timezone.localtime(now).year),
        category=category,
        description=_text(
            description, "description", required=True, message=_("Describe the problem.")
        ),
        answers=answers_clean(category, answers or {}),
        latitude=geo.coordinate(latitude),
        longitude=geo.coordinate(longitude),
        address=_text(address, "address", required=False, limit=250),
        ward=Ward.objects.current().get(code=ward_code),
        department=category.department,
        source=source,
        api_client=api_client,
        reporter_name=_text(reporter_name, "name", required=False, limit=120),
        reporter_phone=_text(reporter_phone, "phone", required=False, limit=20),
        reporter_email=_text(reporter_email, "email", required=False, limit=254),
        reporter_key_hash=secret_hash(key),
        created_at=now,
        updated_at=now,
        deadline_at=deadline_after(now, category.deadline_hours),
    )
    request.full_clean(exclude=["api_client"])
    request.save()
    request.reporter_key = key
    for photo in photos:
        photo_save(request, photo, PhotoKind.REPORT)
    entry_add(request, EntryKind.RECEIVED, actor=actor)
    _client_note(request, actor, client_details)
    if actor is not None:
        audit(actor, "created", request, None, {"code": request.code})
    request_publish(request, created=True)
    reporter_key_send(request)
    return request


def photos_prepare(files: Sequence[IO[bytes]], names: Sequence[str] = ()) -> list[PreparedPhoto]:
    """Check uploaded photos (at most MAX_PHOTOS); all errors at once, keyed ``photos``."""
    if len(files) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)s photos.") % {"n": MAX_PHOTOS}})
    prepared, problems = [], []
    for index, upload in enumerate(files):
        try:
            prepared.append(photo_prepare(upload, name=names[index] if index < len(names) else ""))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ValidationError({"photos": problems})
    return prepared
