"""Signal handlers: cache invalidation and the audit log of accounts (house rule 7).

Logins, failed logins, logouts and password changes are recorded here because they have
more doors than one service: the login page, the admin's login, the admin's password form,
``manage.py changepassword``. A failed login records the username tried and the address,
never the password.
"""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from ioc.geo import ward_changed_in_transaction
from ioc.middleware import request_user
from ioc.models import User, Ward
from ioc.services.audit import audit_record
from ioc.two_factor import step_decide


@receiver(post_save, sender=Ward, dispatch_uid="ioc.ward_saved")
@receiver(post_delete, sender=Ward, dispatch_uid="ioc.ward_deleted")
def ward_changed(sender: type[Ward], **kwargs: Any) -> None:
    """Rebuild point-in-ward indexes everywhere once a ward change has committed (an index
    rebuilt from a transaction that then rolls back would keep answering with its data)."""
    ward_changed_in_transaction()


@receiver(user_logged_in, dispatch_uid="ioc.user_logged_in")
def logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """Record the login; decide whether the session still owes a second factor."""
    audit_record(actor=user, action="user.logged_in", obj=user)
    step_decide(request, user)


@receiver(user_logged_out, dispatch_uid="ioc.user_logged_out")
def logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    """Record the logout (of a session that had a user)."""
    if isinstance(user, User):
        audit_record(actor=user, action="user.logged_out", obj=user)


@receiver(user_login_failed, dispatch_uid="ioc.user_login_failed")
def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Record a failed login: the username tried and the address, never the password
    (and whether the account or address was locked out at the time)."""
    username = str(credentials.get("username") or "")[:150]
    account = User.objects.filter(username=username).first() if username else None
    audit_record(
        actor=None,
        actor_label=username or "?",
        action="user.login_failed",
        obj=account,
        object_type=User._meta.label_lower,
        object_repr=username,
        after={
            "username": username,
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


@receiver(post_save, sender=User, dispatch_uid="ioc.user_password_changed")
def password_changed(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    """Record a password change (set_password then save), whichever door it came through;
    the entry says that it changed, never the password or its hash."""
    # set_password() keeps the new raw password in _password until save() has run the
    # validators' password_changed hooks, which is after post_save.
    if created or getattr(instance, "_password", None) is None:
        return
    actor = request_user()
    audit_record(
        actor=actor,
        actor_label="" if actor is not None else "system",
        action="user.password_changed",
        obj=instance,
        after={"password": "changed"},
    )
