"""Staff actions by name, on an alert or an incident: what the API's
``POST …/<id>/<action>`` and the staff pages' action forms both run, each through its
service. An unknown action is a 404; bad input a ValidationError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

from ioc import selectors
from ioc.models import Alert, Incident, User
from ioc.services import alert_acknowledge, alert_assign, alert_resolve
from ioc.services import incidents as incident_services

_T = TypeVar("_T")


def alert_act(user: User, alert: Alert, action: str, data: dict[str, Any]) -> Alert:
    """Run one staff action on an alert through its service (shared by API and pages)."""
    note = str(data.get("note") or "")
    if action == "acknowledge":
        return alert_acknowledge(actor=user, alert=alert, note=note)
    if action == "resolve":
        return alert_resolve(actor=user, alert=alert, note=note)
    if action == "assign":
        return _assign(
            lambda assignee: alert_assign(actor=user, alert=alert, assignee=assignee),
            str(data.get("assignee") or user.get_username()),
        )
    raise Http404("No such action.")


def _assign(assign: Callable[[User], _T], username: str) -> _T:
    """Run ``assign`` for the active account ``username``. No such account and an account
    that may not take the case (another ward's) get the same answer: the form must not
    tell a ward official which usernames exist elsewhere."""
    refused = ValidationError(
        {"assignee": _("No staff account by that name can take on this ward's cases.")}
    )
    assignee = User.objects.filter(username=username, is_active=True).first()
    if assignee is None:
        raise refused
    try:
        return assign(assignee)
    except ValidationError as exc:
        if "assignee" in getattr(exc, "error_dict", {}):
            raise refused from None
        raise


def alert_by_id(user: User, value: Any) -> Alert:
    """An alert ``user`` may see by an id from a form or body: 400 if not a number, 404 if
    not found or not visible."""
    if not str(value).isdigit():
        raise ValidationError({"alert": _("No such alert.")})
    try:
        return selectors.alert_get_for_user(user, int(value))
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc


def incident_act(user: User, incident: Incident, action: str, data: dict[str, Any]) -> str:
    """Run one staff action on an incident through its service (shared by API and pages);
    returns the confirmation people read."""
    services = incident_services
    note = str(data.get("note") or "")
    if action == "status":
        services.incident_status_set(
            actor=user, incident=incident, status=str(data.get("status") or ""), note=note
        )
        return _("Status changed.")
    if action == "assign":
        _assign(
            lambda assignee: services.incident_assign(
                actor=user, incident=incident, assignee=assignee
            ),
            str(data.get("assignee") or user.get_username()),
        )
        return _("Assigned.")
    if action == "severity":
        services.incident_severity_set(
            actor=user, incident=incident, severity=str(data.get("severity") or ""), note=note
        )
        return _("Severity changed.")
    if action == "note":
        services.incident_note_add(actor=user, incident=incident, text=str(data.get("text") or ""))
        return _("Note added.")
    if action == "checklist":
        item = str(data.get("item") or "")
        if not item.isdigit():
            raise ValidationError({"item": _("No such checklist step.")})
        done = str(data.get("done")).lower() in {"1", "true"}
        services.incident_checklist_set(actor=user, incident=incident, item_id=int(item), done=done)
        return _("Checklist updated.")
    if action == "link":
        alert = alert_by_id(user, data.get("alert"))
        services.incident_link_alert(actor=user, incident=incident, alert=alert)
        return _("Alert linked.")
    if action == "unlink":
        alert = alert_by_id(user, data.get("alert"))
        services.incident_unlink_alert(actor=user, incident=incident, alert=alert)
        return _("Alert unlinked.")
    raise Http404("No such action.")
