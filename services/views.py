"""The public portal (``/``): open to everyone, never showing personal data.

Filing goes through ``services.services``; every read through ``services.selectors``
(``public_requests().values(*PUBLIC_FIELDS)``), so a reporter's name, phone and email
never reach a public page. The tracking code only reads: rating and disputing take the
reporter's key (the private link given at filing), which the track page trades for a mark
in the browser's session (``MAY_ACT``) and drops from the address.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from ioc import geo, selectors
from ioc.api.wards import ward_feature
from ioc.middleware import request_address
from ioc.ratelimit import at_limit, count, over_limit
from ioc.text import vietnamese_sort_key
from services import privacy_selectors
from services import selectors as request_selectors
from services import services as svc
from services.choices import PhotoKind, RequestStatus
from services.forms import (
    HONEYPOT,
    DisputeForm,
    FeedbackForm,
    RatingForm,
    SubjectEraseForm,
    SubjectKeyForm,
)
from services.models import OPEN_STATUSES, ServiceCategory, ServiceRequest
from services.photos import MAX_PHOTO_BYTES, MAX_PHOTOS
from services.services.notify import reporter_url
from services.services.privacy import subject_access_record, subject_erase

PAGE_SIZE = 20
MAP_LIMIT = 2000
# Service error keys -> the form field the message belongs to.
ERROR_FIELDS = {"name": "reporter_name", "phone": "reporter_phone", "email": "reporter_email"}


def _wards() -> list[Any]:
    return sorted(selectors.public_wards(), key=lambda ward: vietnamese_sort_key(ward.name))


def portal_home(request: HttpRequest) -> HttpResponse:
    """The front page: the city's map with open requests, "send feedback" and find-by-code."""
    return render(request, "portal/home.html", {"wards": _wards()})


@cache_control(public=True, max_age=300)
def public_wards_geojson(request: HttpRequest) -> JsonResponse:
    """The current wards' boundaries (public administrative data) for the portal's map; a
    unit without a boundary yet is left out."""
    rows = (
        selectors.public_wards()
        .filter(boundary__isnull=False)
        .values("code", "name", "kind", "boundary")
    )
    return JsonResponse(geo.feature_collection([ward_feature(row) for row in rows]))


# --- Filing -------------------------------------------------------------------------------------


# Failed attempts (a photo that will not decode, a pin outside the city) are allowed this
# many times the filings: a citizen correcting a form is not a bot, but decoding photos
# for a loop that never succeeds is work nobody should get for free.
ATTEMPTS_PER_FILING = 5
# Both limits count per address and clock hour (``ioc.ratelimit``'s fixed window).
RATE_WINDOW_SECONDS = 3600


def _rate_name(request: HttpRequest, what: str) -> str:
    """The counter of ``what`` (filings or attempts) for the request's address."""
    return f"portal:{what}:{request_address(request) or 'unknown'}"


def _over_rate_limit(request: HttpRequest) -> bool:
    """Refused once the address filed IOC_PORTAL_FILINGS_PER_HOUR requests this hour, or
    tried ATTEMPTS_PER_FILING times that; otherwise this attempt is counted."""
    limit = settings.IOC_PORTAL_FILINGS_PER_HOUR
    return at_limit(
        _rate_name(request, "filings"), limit=limit, window_seconds=RATE_WINDOW_SECONDS
    ) or over_limit(
        _rate_name(request, "attempts"),
        limit=limit * ATTEMPTS_PER_FILING,
        window_seconds=RATE_WINDOW_SECONDS,
    )


def _count_filing(request: HttpRequest) -> None:
    """One more filing (or bot's fake one) from the request's address this hour."""
    count(_rate_name(request, "filings"), window_seconds=RATE_WINDOW_SECONDS)


def _too_many(request: HttpRequest, *, keys: bool = False) -> HttpResponse:
    response = render(request, "portal/too_many.html", {"keys": keys}, status=429)
    response["Retry-After"] = "3600"
    return response


def _answers_raw(request: HttpRequest, category: ServiceCategory | None) -> dict[str, Any]:
    """The extra questions' answers of the chosen category, from ``q-<category>-<code>``."""
    if category is None:
        return {}
    raw: dict[str, Any] = {}
    for question in category.questions or []:
        name = f"q-{category.code}-{question.get('code')}"
        values = request.POST.getlist(name)
        raw[str(question.get("code"))] = (
            values if question.get("datatype") == "multivaluelist" else (values or [""])[0]
        )
    return raw


def _form_page(
    request: HttpRequest,
    form: FeedbackForm,
    categories: list[ServiceCategory],
    *,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    chosen = form.categories.get(form.data.get("category") or request.GET.get("category", ""))
    questions = [
        {
            "category": category.code,
            "fields": [
                {
                    **question,
                    "name": f"q-{category.code}-{question.get('code')}",
                    "given": request.POST.getlist(f"q-{category.code}-{question.get('code')}"),
                }
                for question in category.questions
            ],
        }
        for category in categories
        if category.questions
    ]
    return render(
        request,
        "portal/feedback_new.html",
        {
            "form": form,
            "categories": categories,
            "chosen": chosen,
            "errors": errors or {},
            "questions": questions,
            "max_photos": MAX_PHOTOS,
            "max_photo_mb": MAX_PHOTO_BYTES // (1024 * 1024),
            "honeypot": HONEYPOT,
        },
        status=status,
    )


def feedback_new(request: HttpRequest) -> HttpResponse:
    """The feedback form; on POST, file the request and lead to its tracking code. Any
    problem re-shows the form with what was typed (photos must be attached again)."""
    categories = list(request_selectors.categories_for_portal())
    if request.method != "POST":
        initial = {"category": request.GET.get("category", "")}
        return _form_page(request, FeedbackForm(initial=initial, categories=categories), categories)
    if _over_rate_limit(request):
        return _too_many(request)
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.IOC_PORTAL_MAX_UPLOAD_BYTES:
        # Not read at all: too big to hold, so the typed text cannot be shown again.
        message = _("What you sent is too large: at most %(n)s photos of %(mb)s MB each.") % {
            "n": MAX_PHOTOS,
            "mb": MAX_PHOTO_BYTES // (1024 * 1024),
        }
        form = FeedbackForm(categories=categories)
        return _form_page(request, form, categories, errors={"photos": [message]}, status=413)
    form = FeedbackForm(request.POST, categories=categories)
    if request.POST.get(HONEYPOT):
        _count_filing(request)  # a bot: it hears of success, nothing is stored
        return render(request, "portal/feedback_sent.html", {"item": None})
    errors: dict[str, list[str]] = {}
    if not form.is_valid():
        return _form_page(request, form, categories, status=400)
    category = form.categories[form.cleaned_data["category"]]
    if category.legal_process:
        return _form_page(request, form, categories, status=400)
    files = request.FILES.getlist("photos")
    coordinates = form.coordinates()
    try:
        photos = svc.photos_prepare(files, [upload.name or "" for upload in files])
        if coordinates is None:
            raise ValidationError(
                {"location": _("Put a pin on the map, or use your phone's location.")}
            )
        created = svc.request_create(
            category=category,
            description=form.cleaned_data["description"],
            latitude=coordinates[0],
            longitude=coordinates[1],
            address=form.cleaned_data["address"],
            answers=_answers_raw(request, category),
            reporter_name=form.cleaned_data["reporter_name"],
            reporter_phone=form.cleaned_data["reporter_phone"],
            reporter_email=form.cleaned_data["reporter_email"],
            photos=photos,
        )
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(ERROR_FIELDS.get(key, key), []).extend(messages)
        return _form_page(request, form, categories, errors=errors, status=400)
    _count_filing(request)
    # The key is shown once, on the page the browser is sent to (never in its address).
    request.session[NEW_KEYS] = {
        **request.session.get(NEW_KEYS, {}),
        created.code: created.reporter_key,
    }
    _may_act_grant(request, created.code)
    _subject_grant(request, created.code)
    return redirect("portal-feedback-sent", code=created.code)


@never_cache
def feedback_sent(request: HttpRequest, code: str) -> HttpResponse:
    """After filing: the tracking code, large, the link to follow it and, once, in the
    browser that filed it, the reporter's private link."""
    try:
        found = request_selectors.public_request_by_code(code)
    except ServiceRequest.DoesNotExist:
        return _not_found(request, code)
    new_keys = request.session.get(NEW_KEYS, {})
    key = new_keys.pop(found.code, None)
    if key is not None:
        request.session[NEW_KEYS] = new_keys
    return render(
        request,
        "portal/feedback_sent.html",
        {"item": found, "private_url": reporter_url(found, key) if key else None},
    )


@require_GET
def nearby_json(request: HttpRequest) -> JsonResponse:
    """Open requests of a category near a pin ("already reported?"), public fields only."""
    try:
        lat, lon = float(request.GET["lat"]), float(request.GET["lon"])
        geo.check_lon_lat(lon, lat)
    except (KeyError, ValueError, geo.GeometryError):
        return JsonResponse({"error": _("lat and lon are required numbers.")}, status=400)
    category = (
        request_selectors.categories_for_portal()
        .filter(code=request.GET.get("category", ""))
        .first()
    )
    rows = request_selectors.nearby_open_requests(latitude=lat, longitude=lon, category=category)
    return JsonResponse(
        {
            "requests": [
                {
                    "code": row["code"],
                    "category": row["category__name"],
                    "status": str(RequestStatus(row["status"]).label),
                    "description": row["description"][:140],
                    "distance_m": row["distance_m"],
                    "created_at": row["created_at"],
                    "url": reverse("portal-track", kwargs={"code": row["code"]}),
                }
                for row in rows
            ]
        }
    )


# --- Tracking -----------------------------------------------------------------------------------


def _public_or_404(code: str) -> ServiceRequest:
    try:
        return request_selectors.public_request_by_code(code)
    except ServiceRequest.DoesNotExist as exc:
        raise Http404(_("No request has this tracking code.")) from exc


def _not_found(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "portal/track_not_found.html", {"code": code[:40]}, status=404)


# The session's keys: the codes this browser may rate or dispute (given by the reporter's
# key, or by filing), and the keys of requests just filed, until the "sent" page shows them.
MAY_ACT = "portal:may_act"
NEW_KEYS = "portal:new_keys"
MAY_ACT_KEPT = 20
# The codes whose own key this browser showed (or which it filed): their reporter's data
# may be seen and erased here. Unlike MAY_ACT, never the request a duplicate joined: that
# request holds another reporter's data.
SUBJECT = "portal:subject"


def _may_act(request: HttpRequest, code: str) -> bool:
    """Whether this browser showed the reporter's key of request ``code``."""
    return code in request.session.get(MAY_ACT, [])


def _may_act_grant(request: HttpRequest, code: str) -> None:
    """Remember in the session that this browser may act on ``code`` (the latest few)."""
    codes = [known for known in request.session.get(MAY_ACT, []) if known != code]
    request.session[MAY_ACT] = [*codes[-(MAY_ACT_KEPT - 1) :], code]


def _subject_grant(request: HttpRequest, code: str) -> None:
    """Remember that this browser proved to be the reporter of exactly ``code``."""
    codes = [known for known in request.session.get(SUBJECT, []) if known != code]
    request.session[SUBJECT] = [*codes[-(MAY_ACT_KEPT - 1) :], code]


def _subject_drop(request: HttpRequest, code: str) -> None:
    """Forget ``code`` in this browser: its key no longer exists."""
    for name in (SUBJECT, MAY_ACT):
        request.session[name] = [known for known in request.session.get(name, []) if known != code]


def _is_subject(request: HttpRequest, code: str) -> bool:
    return code in request.session.get(SUBJECT, [])


def _key_failures_name(request: HttpRequest) -> str:
    return _rate_name(request, "key-failures")


def _over_key_failures(request: HttpRequest) -> bool:
    """Refused once the address presented IOC_PORTAL_KEY_FAILURES_PER_HOUR wrong or
    missing keys this hour (keys cannot be guessed; this keeps the attempts cheap)."""
    return at_limit(
        _key_failures_name(request),
        limit=settings.IOC_PORTAL_KEY_FAILURES_PER_HOUR,
        window_seconds=RATE_WINDOW_SECONDS,
    )


def _key_refused(request: HttpRequest, item: ServiceRequest, **forms: Any) -> HttpResponse:
    """A rating, dispute or private link without the request's key: counted, and the
    page says how to act (403)."""
    count(_key_failures_name(request), window_seconds=RATE_WINDOW_SECONDS)
    return _track_page(request, item, key_refused=True, status=403, **forms)


def _without_key(request: HttpRequest, item: ServiceRequest, **forms: Any) -> HttpResponse | None:
    """None when this browser may act on ``item``; otherwise the refusal (429 once the
    address is past its limit of refusals)."""
    if _may_act(request, item.code):
        return None
    if _over_key_failures(request):
        return _too_many(request, keys=True)
    return _key_refused(request, item, **forms)


def find(request: HttpRequest) -> HttpResponse:
    """The "find my request" box: a tracking code, any case, spaces trimmed."""
    code = (request.GET.get("code") or "").strip().upper()
    if not code:
        return redirect("portal-home")
    try:
        found = request_selectors.public_request_by_code(code)
    except ServiceRequest.DoesNotExist:
        return _not_found(request, code)
    return redirect("portal-track", code=found.code)


def _track_page(
    request: HttpRequest,
    item: ServiceRequest,
    *,
    rating_form: RatingForm | None = None,
    dispute_form: DisputeForm | None = None,
    errors: list[str] | None = None,
    key_refused: bool = False,
    status: int = 200,
) -> HttpResponse:
    photos = list(item.photos.all())
    rateable = item.status in (RequestStatus.RESOLVED, RequestStatus.CLOSED) and item.rating is None
    disputable = item.status == RequestStatus.RESOLVED
    may_act = _may_act(request, item.code)
    # The reporter's own page: this request's, or a duplicate's this browser filed or
    # showed the key of (its reporter's data stayed on it).
    subject_code = item.code
    if not _is_subject(request, item.code):
        proven = set(request.session.get(SUBJECT, []))
        subject_code = next(
            (c for c in item.duplicates.values_list("code", flat=True) if c in proven),
            item.code,
        )
    return render(
        request,
        "portal/track.html",
        {
            "item": item,
            "timeline": item.timeline.filter(public=True),
            "photos": [photo for photo in photos if photo.kind == PhotoKind.REPORT],
            "after_photos": [photo for photo in photos if photo.kind == PhotoKind.AFTER],
            "can_rate": may_act and rateable,
            "can_dispute": may_act and disputable,
            # Without the key: how to get to the forms (or why there are none).
            "needs_key": not may_act and (rateable or disputable or key_refused),
            "has_key": bool(item.reporter_key_hash),
            "key_refused": key_refused,
            "rating_form": rating_form or RatingForm(),
            "dispute_form": dispute_form or DisputeForm(),
            "errors": errors or [],
            "subject_code": subject_code,
        },
        status=status,
    )


def track(request: HttpRequest, code: str) -> HttpResponse:
    """A request's public page: status, deadline, public timeline and photos, never the
    reporter's data; a merged request's code leads to the request that survived. With
    the reporter's key (``?key=``, the private link) the browser may rate and dispute."""
    try:
        found = request_selectors.public_request_by_code(code)
    except ServiceRequest.DoesNotExist:
        return _not_found(request, code)
    if "key" in request.GET:
        response = _key_redeem(request, code, found)
        # The key is in this address: not even our own pages hear of it in a Referer.
        response["Referrer-Policy"] = "no-referrer"
        return response
    if found.code != code:
        return redirect("portal-track", code=found.code)
    return _track_page(request, found)


def _key_redeem(request: HttpRequest, code: str, found: ServiceRequest) -> HttpResponse:
    """The private link: a right key marks the session (for the request that survived a
    merge) and leads to the page without the key in its address; a wrong one is refused."""
    if _over_key_failures(request):
        return _too_many(request, keys=True)
    if not request_selectors.reporter_key_matches(code, request.GET["key"]):
        return _key_refused(request, found)
    _may_act_grant(request, found.code)
    _subject_grant(request, code.strip().upper())
    return redirect("portal-track", code=found.code)


@require_POST
def track_rate(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter rates the answer, from a browser that showed their key."""
    item = _public_or_404(code)
    form = RatingForm(request.POST)
    if refused := _without_key(request, item, rating_form=form):
        return refused
    if not form.is_valid():
        return _track_page(request, item, rating_form=form, status=400)
    try:
        svc.request_rate(
            request=item, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
        )
    except ValidationError as exc:
        return _track_page(request, item, rating_form=form, errors=exc.messages, status=400)
    return redirect(reverse("portal-track", kwargs={"code": item.code}) + "#rated")


@require_POST
def track_dispute(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter is not satisfied, from a browser that showed their key: the request
    reopens at the supervising level."""
    item = _public_or_404(code)
    form = DisputeForm(request.POST)
    if refused := _without_key(request, item, dispute_form=form):
        return refused
    if not form.is_valid():
        return _track_page(request, item, dispute_form=form, status=400)
    try:
        svc.request_dispute(request=item, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        return _track_page(request, item, dispute_form=form, errors=exc.messages, status=400)
    return redirect(reverse("portal-track", kwargs={"code": item.code}) + "#disputed")


# --- The reporter's personal data (Law 91/2025/QH15) --------------------------------------------


def _subject_or_404(code: str) -> ServiceRequest:
    try:
        return privacy_selectors.subject_request_by_code(code)
    except ServiceRequest.DoesNotExist as exc:
        raise Http404(_("No request has this tracking code.")) from exc


def _subject_page(
    request: HttpRequest,
    item: ServiceRequest,
    *,
    key_form: SubjectKeyForm | None = None,
    erase_form: SubjectEraseForm | None = None,
    key_refused: bool = False,
    status: int = 200,
) -> HttpResponse:
    proven = _is_subject(request, item.code)
    held = privacy_selectors.subject_data(item) if proven else None
    response = render(
        request,
        "portal/my_data.html",
        {
            "item": item,
            "proven": proven,
            "held": held,
            "contact": [
                (field.verbose_name, held["contact"][field.name])
                for field in ServiceRequest._meta.concrete_fields
                if field.name in ("reporter_name", "reporter_phone", "reporter_email")
            ]
            if held
            else [],
            "key_form": key_form or SubjectKeyForm(),
            "erase_form": erase_form or SubjectEraseForm(),
            "key_refused": key_refused,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    # Not "no-referrer": a browser then sends "Origin: null" with the page's own forms,
    # which the CSRF check refuses. The address holds no key; other sites hear nothing.
    response["Referrer-Policy"] = "same-origin"
    return response


def _subject_refused(request: HttpRequest, item: ServiceRequest, **forms: Any) -> HttpResponse:
    """No proof, or a wrong one: 403 with the way to prove it (counted like a wrong key
    for rating or disputing), 429 past the address's limit."""
    if _over_key_failures(request):
        return _too_many(request, keys=True)
    count(_key_failures_name(request), window_seconds=RATE_WINDOW_SECONDS)
    return _subject_page(request, item, key_refused=True, status=403, **forms)


@never_cache
def my_data(request: HttpRequest, code: str) -> HttpResponse:
    """What the platform holds about the reporter of request ``code`` (that request
    itself, not one it was merged into), for the browser that proved to be its reporter
    (the private link, or filing it); POST ``key``: prove it here. Each showing is
    recorded as a data-subject request."""
    item = _subject_or_404(code)
    if request.method == "POST":
        form = SubjectKeyForm(request.POST)
        if _over_key_failures(request):
            return _too_many(request, keys=True)
        if not form.is_valid() or not request_selectors.reporter_key_matches(
            item.code, form.cleaned_data["key"]
        ):
            return _subject_refused(request, item, key_form=form)
        _subject_grant(request, item.code)
        return redirect("portal-my-data", code=item.code)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    if not _is_subject(request, item.code):
        return _subject_refused(request, item)
    subject_access_record(request=item, answer_format="page")
    return _subject_page(request, item)


@never_cache
@require_GET
def my_data_json(request: HttpRequest, code: str) -> JsonResponse:
    """The same as a JSON download, for the browser that proved to be the reporter; a
    JSON 403 (429 past the limit) otherwise."""
    item = _subject_or_404(code)
    if not _is_subject(request, item.code):
        if _over_key_failures(request):
            response = JsonResponse({"error": _("Too many attempts.")}, status=429)
            response["Retry-After"] = str(RATE_WINDOW_SECONDS)
            return response
        count(_key_failures_name(request), window_seconds=RATE_WINDOW_SECONDS)
        return JsonResponse(
            {"error": _("This needs the private link of this feedback.")}, status=403
        )
    subject_access_record(request=item, answer_format="json")
    response = JsonResponse(
        privacy_selectors.subject_data(item), json_dumps_params={"ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="{item.code}-personal-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def my_data_erase(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter has their contact details (and, if they choose, the photos they sent)
    erased, at once; this browser then forgets the request's key, which no longer exists."""
    item = _subject_or_404(code)
    form = SubjectEraseForm(request.POST)
    if not _is_subject(request, item.code):
        return _subject_refused(request, item, erase_form=form)
    if not form.is_valid():
        return _subject_page(request, item, erase_form=form, status=400)
    subject_erase(request=item, photos=form.cleaned_data["what"] == "contact_photos")
    _subject_drop(request, item.code)
    messages.success(
        request,
        _(
            "Your contact details have been erased. The feedback goes on without them; "
            "you will no longer hear of its progress."
        )
        if form.cleaned_data["what"] == "contact"
        else _(
            "Your contact details and the photos you sent have been erased. The feedback "
            "goes on without them; you will no longer hear of its progress."
        ),
    )
    return redirect("portal-track", code=item.code)


# --- Public list and map ------------------------------------------------------------------------


def _filtered(params: Any) -> Any:
    """Public requests filtered by ward, category and open/resolved state."""
    rows = request_selectors.public_requests()
    if ward := params.get("ward"):
        rows = rows.filter(ward__in=selectors.wards_named(ward))
    if category := params.get("category"):
        rows = rows.filter(category__code=category)
    state = params.get("state", "")
    if state == "open":
        rows = rows.filter(status__in=OPEN_STATUSES)
    elif state == "resolved":
        rows = rows.filter(status__in=(RequestStatus.RESOLVED, RequestStatus.CLOSED))
    return rows.exclude(status=RequestStatus.REJECTED)


def request_list(request: HttpRequest) -> HttpResponse:
    """Requests on a map and in a paginated list, by ward, category and state; no
    personal data."""
    rows = _filtered(request.GET).values(*request_selectors.PUBLIC_FIELDS)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    wards = _wards()
    ward = request.GET.get("ward", "").strip()[:16]
    # A former unit's code (an old link): the list shows the units it went into, and says so.
    former = (
        [] if not ward or ward in {w.code for w in wards} else selectors.wards_found(None, ward)
    )
    return render(
        request,
        "portal/requests.html",
        {
            "page": page,
            "wards": wards,
            "ward_selected": former[0].unit.code if len(former) == 1 else ward,
            "ward_found": [hit for hit in former if hit.former is not None],
            "categories": list(request_selectors.categories_for_portal()),
            "params": request.GET,
            "query": query.urlencode(),
            "statuses": dict(RequestStatus.choices),
        },
    )


def requests_geojson(request: HttpRequest) -> JsonResponse:
    """The same requests as points (the latest MAP_LIMIT), public fields only."""
    rows = _filtered(request.GET).values(*request_selectors.PUBLIC_FIELDS)[:MAP_LIMIT]
    labels = dict(RequestStatus.choices)
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [float(row["longitude"]), float(row["latitude"])],
            },
            "properties": {
                "code": row["code"],
                "category": row["category__name"],
                "status": row["status"],
                "status_label": str(labels[row["status"]]),
                "open": row["status"] in OPEN_STATUSES,
                "ward": row["ward__name"],
                "url": reverse("portal-track", kwargs={"code": row["code"]}),
            },
        }
        for row in rows
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features})


# --- Photos -------------------------------------------------------------------------------------

# Public photos change only by being withdrawn (a merge): a day's caching is enough.
PUBLIC_PHOTO_MAX_AGE = 24 * 3600


@require_safe
def request_photo(request: HttpRequest, name: str) -> FileResponse:
    """A request's photo by its exact stored name: a public one for anyone, another one
    for staff whose scope has its request, 404 otherwise. No file is ever found by
    joining the address to a folder: the name must be a photo's, as stored."""
    public = request_selectors.photo_file_visible_to(request.user, name)
    if public is None:
        raise Http404("No such photo.")
    try:
        stored = default_storage.open(name, "rb")
    except OSError as exc:
        raise Http404("No such photo.") from exc
    cache = f"public, max-age={PUBLIC_PHOTO_MAX_AGE}" if public else "private, no-store"
    return FileResponse(
        stored,
        content_type="image/jpeg",
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
