"""The client address every reader takes (audit log, portal limit, login lockout): only the
hops our own proxies added to X-Forwarded-For count, never what the client wrote."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from ioc.middleware import request_address
from ioc.models import AuditEntry, Department

SPOOFED = "6.6.6.6"
CLIENT = "198.51.100.7"
PROXY = "10.0.0.2"


def address(**meta: str) -> str | None:
    return request_address(RequestFactory().get("/", REMOTE_ADDR=PROXY, **meta))


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(settings: Any) -> None:
    settings.IOC_TRUSTED_PROXY_HOPS = 0
    assert address(HTTP_X_FORWARDED_FOR=SPOOFED) == PROXY


def test_behind_one_proxy_the_client_is_the_entry_the_proxy_appended(settings: Any) -> None:
    settings.IOC_TRUSTED_PROXY_HOPS = 1
    # nginx's $proxy_add_x_forwarded_for: what the client sent, then the peer's address.
    assert address(HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}") == CLIENT
    assert address(HTTP_X_FORWARDED_FOR=CLIENT) == CLIENT


def test_behind_two_proxies_the_client_is_second_from_the_right(settings: Any) -> None:
    settings.IOC_TRUSTED_PROXY_HOPS = 2
    assert address(HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}, 10.0.0.9") == CLIENT


def test_behind_a_proxy_without_the_header_the_peer_is_the_client(settings: Any) -> None:
    settings.IOC_TRUSTED_PROXY_HOPS = 1
    assert address() == PROXY
    assert address(HTTP_X_FORWARDED_FOR=" , ") == PROXY


@pytest.mark.django_db
def test_audit_log_records_the_address_the_proxy_saw_not_the_one_claimed(
    login: Any, demo_city: Any, settings: Any
) -> None:
    settings.IOC_TRUSTED_PROXY_HOPS = 1
    department = Department.objects.get(code="quan-ly-do-thi")
    response = login("admin").post(
        f"/admin/ioc/department/{department.pk}/change/",
        {"code": department.code, "name": department.name, "email": "", "is_active": "on"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}",
    )
    assert response.status_code == 302
    assert AuditEntry.objects.get(action="department.changed_in_admin").ip_address == CLIENT
