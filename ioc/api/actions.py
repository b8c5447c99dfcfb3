"""Staff actions by name, on an alert or an incident: what the API's
``POST …/<id>/<action>`` and the staff pages' action forms both run, each through its
service. An unknown action is a 404; bad input a ValidationError."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

from ioc import selectors
from ioc.models import Alert, Incident, User
from ioc.services import alert_acknowledge, alert_assign, alert_resolve
from ioc.services import incidents as incident_services


def alert_act(user: User, alert: Alert, action: str, data: dict[str, Any]) -> Alert:
    """Run one staff action on an alert through its service (shared by API and pages)."""
    note = str(data.get("note") or "")
    if action == "acknowledge":
        return alert_acknowledge(actor=user, alert=alert, note=note)
    if action == "resolve":
        return alert_resolve(actor=user, alert=alert, note=note)
    if action == "assign":
        username = str(data.get("assignee") or user.get_username())
        try:
            assignee = User.objects.get(username=username, is_active=True)
        except User.DoesNotExist as exc:
            raise ValidationError({"assignee": f"No active staff account '{username}'."}) from exc
        return alert_assign(actor=user, alert=alert, assignee=assignee)
    raise Http404("No such action.")


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
        username = str(data.get("assignee") or user.get_username())
        assignee = User.objects.filter(username=username, is_active=True).first()
        if assignee is None:
            raise ValidationError({"assignee": _("No such staff account.")})
        services.incident_assign(actor=user, incident=incident, assignee=assignee)
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
