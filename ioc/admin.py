"""Django admin for registry data; every change made here is audited like a service write."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import _get_foreign_key
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioc.choices import ReorganisationState
from ioc.models import (
    Alert,
    AuditEntry,
    Department,
    Incident,
    IncidentType,
    IncidentTypeStep,
    Reorganisation,
    ScopeReview,
    User,
    Ward,
    WardSuccession,
)
from ioc.services import audit_record, snapshot
from ioc.services.reorganisation import (
    SUBJECTS,
    ReorganisationError,
    reorganisation_cancel,
    reorganisation_confirm,
    reorganisation_draft,
)
from ioc.services.staff import scope_reviews_close


class AuditedAdmin(admin.ModelAdmin):
    """Record an audit entry (before/after) for every add, change and delete in the admin.

    The state recorded is the whole of what the change page edits: the fields, the
    many-to-many fields (read after the admin has saved them) and the rows of the inlines.
    Credentials are masked (``ioc.services.audit.SECRET_FIELDS``): an entry shows that
    they changed, never their value.
    """

    audit_exclude: tuple[str, ...] = ()

    def audit_state(self, obj: Any) -> dict[str, Any]:
        """The object as the audit log records it, inlines included."""
        state = snapshot(obj, exclude=self.audit_exclude)
        for inline in self.inlines:
            model = inline.model
            key = _get_foreign_key(type(obj), model, fk_name=inline.fk_name)
            rows = model.objects.filter(**{key.name: obj}).order_by("pk") if obj.pk else []
            state[model._meta.model_name] = [snapshot(row, exclude=(key.name,)) for row in rows]
        return state

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj).objects.filter(pk=obj.pk).first() if change else None
        # Read before anything is written: the inlines and many-to-many fields are saved
        # after this, by save_related, where the entry is made.
        form._audit_before = self.audit_state(stored) if stored is not None else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit_record(
            actor=_actor(request),
            action=f"{obj._meta.model_name}.{'changed' if change else 'added'}_in_admin",
            obj=obj,
            before=getattr(form, "_audit_before", None),
            after=self.audit_state(obj),
            ward_code=_ward_code(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=_actor(request),
            action=f"{obj._meta.model_name}.deleted_in_admin",
            obj=obj,
            before=self.audit_state(obj),
            ward_code=_ward_code(obj),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A page that only reads: the record is written by audited services elsewhere, and
    deleting it here would erase history without a trace."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _actor(request: HttpRequest) -> User | None:
    """The staff account behind an admin request."""
    return request.user if isinstance(request.user, User) else None


def _ward_code(obj: Any) -> str:
    """The ward an object belongs to, for filtering the audit log by ward."""
    if isinstance(obj, Ward):
        return obj.code
    ward = getattr(obj, "ward", None)
    return getattr(ward, "code", "") if ward is not None else ""


class _SuccessionInline(admin.TabularInline):
    """A unit's reorganisations, read only: only a reorganisation writes them."""

    model = WardSuccession
    extra = 0
    can_delete = False
    readonly_fields = ("predecessor", "successor", "transfer", "effective")
    fields = ("predecessor", "successor", "transfer", "effective")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CameFromInline(_SuccessionInline):
    fk_name = "successor"
    verbose_name = _("former unit")
    verbose_name_plural = _("came from")


class WentIntoInline(_SuccessionInline):
    fk_name = "predecessor"
    verbose_name = _("new unit")
    verbose_name_plural = _("went into")


@admin.register(Ward)
class WardAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "province_name", "valid_from", "valid_to"]
    list_filter = ["kind", "valid_to", "province_name"]
    search_fields = ["code", "name"]
    readonly_fields = ["updated_at"]
    audit_exclude = ("boundary",)
    inlines = [CameFromInline, WentIntoInline]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["code", "name", "email", "is_active"]
    search_fields = ["code", "name"]


class ScopeToReviewFilter(admin.SimpleListFilter):
    """Officials whose unit was split and whose units nobody has checked since."""

    title = _("scope to review")
    parameter_name = "scope_to_review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes"))]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> Any:
        if self.value() == "yes":
            open_reviews = ScopeReview.objects.filter(reviewed_at__isnull=True)
            return queryset.filter(pk__in=open_reviews.values("user"))
        return queryset


@admin.register(User)
class StaffUserAdmin(UserAdmin, AuditedAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active", "scope_to_review"]
    list_filter = ["role", "is_active", ScopeToReviewFilter]
    filter_horizontal = ["wards", "departments", "groups", "user_permissions"]
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            _("Role and scope"),
            {
                "fields": (
                    "role",
                    "wards",
                    "scope_reviews_open",
                    "departments",
                    "two_factor_exempt",
                )
            },
        ),
    )
    # The password hash is never recorded; a password change is recorded on its own
    # ("user.password_changed", ioc/signals.py), whichever door it came through.
    audit_exclude = ("password", "last_login")
    readonly_fields = ["two_factor_exempt", "last_login", "date_joined", "scope_reviews_open"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[User]:
        open_reviews = models.Count(
            "scope_reviews", filter=models.Q(scope_reviews__reviewed_at__isnull=True)
        )
        return super().get_queryset(request).annotate(open_scope_reviews=open_reviews)

    @admin.display(description=_("scope to review"), boolean=True)
    def scope_to_review(self, user: User) -> bool:
        """Whether a split gave this official units someone still has to check."""
        return bool(getattr(user, "open_scope_reviews", 0))

    @admin.display(description=_("scope to review"))
    def scope_reviews_open(self, user: User) -> str:
        """The splits that gave this official every part of a unit: keep the wards they
        work for above, then mark the review done under *Scopes to review*."""
        reviews = user.scope_reviews.filter(reviewed_at__isnull=True).select_related("former")
        return (
            "; ".join(
                gettext("%(unit)s was split: %(units)s")
                % {
                    "unit": f"{review.former.code} {review.former.name}",
                    "units": ", ".join(f"{unit.code} {unit.name}" for unit in review.units.all()),
                }
                for review in reviews
            )
            or "–"
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is read-only, even for administrators."""

    list_display = ["at", "actor_label", "action", "object_repr", "ward_code", "ip_address"]
    list_filter = ["action", "ward_code"]
    search_fields = ["actor_label", "object_repr", "object_id"]
    date_hierarchy = "at"


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Alerts are handled on the operations pages (audited services); here they are read."""

    list_display = ["raised_at", "title", "ward", "severity", "status", "occurrences"]
    list_filter = ["status", "severity", "kind", "ward"]
    search_fields = ["title", "cause", "device__code"]
    list_select_related = ["ward"]


class IncidentTypeStepInline(admin.TabularInline):
    model = IncidentTypeStep
    extra = 1
    fields = ["position", "text"]


@admin.register(IncidentType)
class IncidentTypeAdmin(AuditedAdmin):
    """Incident types and their standard steps: each new incident copies the steps into
    its checklist (incidents already open keep theirs)."""

    list_display = ["name", "code", "default_severity", "is_active", "position"]
    list_editable = ["position"]
    list_filter = ["is_active", "default_severity"]
    search_fields = ["name", "code"]
    inlines = [IncidentTypeStepInline]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Incidents are worked on the operations pages (audited services); here they are read."""

    list_display = ["created_at", "title", "incident_type", "ward", "severity", "status"]
    list_filter = ["status", "severity", "incident_type", "ward"]
    search_fields = ["title", "description"]
    list_select_related = ["ward", "incident_type"]


# --- Reorganisations of units ----------------------------------------------------------------


class ReorganisationUploadForm(forms.Form):
    """A reorganisation's files and day, as the command takes them."""

    plan = forms.FileField(
        label=_("Plan of the new units"),
        help_text=_("GeoJSON: one feature per new unit, with code, name, kind and a boundary"),
    )
    mapping = forms.FileField(
        label=_("Mapping from the old units"),
        help_text=_(
            "CSV with the columns old_code,new_code,transfer (whole or part); other columns "
            "are allowed"
        ),
    )
    effective = forms.DateField(
        label=_("Effective day"),
        help_text=_("The first day of the new units"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


@admin.register(Reorganisation)
class ReorganisationAdmin(ReadOnlyAdmin):
    """Reorganisations of units: upload a plan and a mapping, read what would move (the dry
    run), then apply at once or schedule for the effective day. The records are written by
    the audited services of ``ioc.services.reorganisation``, never edited here."""

    list_display = ["effective", "state", "units_made", "created_label", "created_at", "applied_at"]
    list_filter = ["state"]
    change_list_template = "admin/ioc/reorganisation/change_list.html"

    @admin.display(description=_("new units"))
    def units_made(self, reorganisation: Reorganisation) -> str:
        return ", ".join(
            f"{unit['code']} {unit['name']}" for unit in reorganisation.report.get("units", [])
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="ioc_reorganisation_upload",
            ),
            path(
                "<int:pk>/confirm/",
                self.admin_site.admin_view(require_POST(self.confirm_view)),
                name="ioc_reorganisation_confirm",
            ),
            path(
                "<int:pk>/cancel/",
                self.admin_site.admin_view(require_POST(self.cancel_view)),
                name="ioc_reorganisation_cancel",
            ),
        ]
        return own + super().get_urls()

    def may_submit(self, request: HttpRequest) -> bool:
        """Who may check, apply, schedule or cancel: holders of the add permission."""
        return request.user.has_perm("ioc.add_reorganisation")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = {"may_submit": self.may_submit(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """A reorganisation's report: what moves where, what needs a person, the problems;
        with the buttons its state allows."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        reorganisation = get_object_or_404(Reorganisation, pk=object_id)
        report = reorganisation.report
        may = self.may_submit(request)
        context = {
            **self.admin_site.each_context(request),
            "title": str(reorganisation),
            "opts": self.model._meta,
            "reorganisation": reorganisation,
            "report": report,
            "old_units": [
                (
                    ward,
                    [
                        (label, ward["moves"].get(subject, []))
                        for subject, label in SUBJECTS.items()
                    ],
                )
                for ward in report.get("old", [])
            ],
            "applies_now": reorganisation.effective <= timezone.localdate(),
            "may_confirm": may and reorganisation.state == ReorganisationState.DRAFT,
            "may_cancel": may
            and reorganisation.state in (ReorganisationState.DRAFT, ReorganisationState.SCHEDULED),
        }
        return TemplateResponse(request, "admin/ioc/reorganisation/report.html", context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload the files: checked at once (every problem listed); a plan that passes is
        kept as a draft, whose report is shown with the button to apply or schedule it."""
        if not self.may_submit(request):
            raise PermissionDenied
        form = ReorganisationUploadForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                reorganisation = reorganisation_draft(
                    plan=form.cleaned_data["plan"].read(),
                    mapping=form.cleaned_data["mapping"].read(),
                    effective=form.cleaned_data["effective"],
                    actor=_actor(request),
                )
            except ReorganisationError as exc:
                problems = exc.problems
            else:
                return redirect("admin:ioc_reorganisation_change", reorganisation.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Upload a reorganisation"),
            "opts": self.model._meta,
            "form": form,
            "problems": problems,
        }
        return TemplateResponse(request, "admin/ioc/reorganisation/upload.html", context)

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Apply a checked reorganisation now (its day has come) or schedule it."""
        if not self.may_submit(request):
            raise PermissionDenied
        reorganisation = get_object_or_404(Reorganisation, pk=pk)
        try:
            done = reorganisation_confirm(reorganisation=reorganisation, actor=_actor(request))
        except ReorganisationError as exc:
            messages.error(request, " ".join(exc.problems))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if done.state == ReorganisationState.SCHEDULED:
                messages.success(
                    request,
                    gettext("Scheduled: it takes effect at midnight of %(day)s.")
                    % {"day": f"{done.effective:%d/%m/%Y}"},
                )
            else:
                messages.success(request, gettext("Applied."))
        return redirect(reverse("admin:ioc_reorganisation_change", args=[pk]))

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Give up a reorganisation that is checked or scheduled."""
        if not self.may_submit(request):
            raise PermissionDenied
        reorganisation = get_object_or_404(Reorganisation, pk=pk)
        try:
            reorganisation_cancel(reorganisation=reorganisation, actor=_actor(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, gettext("Cancelled."))
        return redirect(reverse("admin:ioc_reorganisation_change", args=[pk]))


@admin.register(ScopeReview)
class ScopeReviewAdmin(ReadOnlyAdmin):
    """Officials given every part of a split unit: check each one's wards (in the staff
    account), then mark the review done (audited)."""

    list_display = ["user", "former", "units_given", "reorganisation", "created_at", "reviewed_at"]
    list_filter = [("reviewed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "former", "reorganisation"]
    actions = ["mark_reviewed"]

    @admin.display(description=_("units given"))
    def units_given(self, review: ScopeReview) -> str:
        return ", ".join(f"{unit.code} {unit.name}" for unit in review.units.all())

    @admin.action(description=_("Mark as reviewed"))
    def mark_reviewed(self, request: HttpRequest, queryset: models.QuerySet[ScopeReview]) -> None:
        actor = _actor(request)
        if actor is None or not request.user.has_perm("ioc.change_user"):
            raise PermissionDenied
        closed = scope_reviews_close(reviews=list(queryset), actor=actor)
        messages.success(request, gettext("%(n)s reviews closed.") % {"n": closed})


# --- Admins that Django and the libraries register: audited like ours -----------------------
# Groups carry permissions (who may command a traffic signal); second-factor devices and
# lockouts are account security. Each is registered again with the audit mixed in, so that
# no door of the admin writes without an entry (tests/ioc/test_admin_audit.py checks all).


def _audited(model: type[models.Model], **options: Any) -> None:
    """Register ``model`` again with its current admin class plus AuditedAdmin."""
    registered = admin.site._registry.get(model)
    base = type(registered) if registered is not None else admin.ModelAdmin
    if registered is not None:
        admin.site.unregister(model)
    audited = type(f"Audited{base.__name__}", (AuditedAdmin, base), options)
    admin.site.register(model, audited)


# Registered by their apps' own admin modules: imported here first, whatever the order of
# INSTALLED_APPS, so that the registration below replaces theirs.
import axes.admin  # noqa: E402, F401
import django.contrib.auth.admin  # noqa: E402, F401
import django_otp.plugins.otp_static.admin  # noqa: E402
import django_otp.plugins.otp_totp.admin  # noqa: E402, F401

_audited(Group)
_audited(TOTPDevice)
_audited(StaticDevice)
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    _audited(_model)
