"""HTTPS as deployed: docker-compose's settings pass ``check --deploy`` with no warning,
the proxy says which scheme a request came over, and the health check stays plain http."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
_KNOB = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?(?P<op>[-?])(?P<default>[^}]*))?\}")


def compose_app_environment(**dotenv: str) -> dict[str, str]:
    """The environment docker-compose gives the platform's processes, with ``dotenv`` as
    the operator's .env file (unset knobs take the file's defaults)."""
    config = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = config["x-app"]["environment"]

    def value(match: re.Match[str]) -> str:
        if match["name"] in dotenv:
            return dotenv[match["name"]]
        assert match["op"] != "?", f"docker-compose needs {match['name']} in .env"
        return match["default"] or ""

    return {name: _KNOB.sub(value, str(raw)) for name, raw in environment.items()}


def deploy_check(environment: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IOC_VAR_DIR": str(tmp_path)}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_docker_compose_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    environment = compose_app_environment(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50), POSTGRES_PASSWORD="secret"
    )
    assert environment["DJANGO_HTTPS"] == "true"
    result = deploy_check(environment, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_production_settings_with_https_pass_the_deploy_check(tmp_path: Path) -> None:
    """`make serve`'s variables as the README lists them, plus DJANGO_HTTPS=true."""
    readme = (ROOT / "README.md").read_text()
    assert "DJANGO_HTTPS=true" in readme
    environment = {
        "DATABASE_URL": "postgres://ioc:secret@127.0.0.1:5432/ioc",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_HTTPS": "true",
    }
    result = deploy_check(environment, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_proxy_terminates_tls_and_sets_the_scheme_and_client_hops() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "listen 443 ssl" in config and "ssl_certificate " in config
    locations = config.count("location ")
    assert config.count("proxy_set_header X-Forwarded-Proto $scheme;") == locations
    # Each location appends the peer: one hop of ours, as IOC_TRUSTED_PROXY_HOPS says.
    assert config.count("X-Forwarded-For $proxy_add_x_forwarded_for;") == locations
    assert compose_app_environment(DJANGO_SECRET_KEY="k")["IOC_TRUSTED_PROXY_HOPS"] == "1"
    ws = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["ws"]["command"]
    assert "*" not in ws  # uvicorn must not trust every peer's X-Forwarded-For


@pytest.fixture
def https(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000


@pytest.mark.django_db
def test_with_https_plain_http_is_redirected_and_https_gets_hsts(https: None) -> None:
    plain = Client().get("/", HTTP_X_FORWARDED_PROTO="http")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = Client().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_with_https_the_health_check_answers_plain_http(https: None, settings: Any) -> None:
    from django.conf import settings as live

    settings.SECURE_REDIRECT_EXEMPT = live.SECURE_REDIRECT_EXEMPT
    assert Client().get("/healthz").status_code == 200


def test_embedded_default_stays_plain_http(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "IOC_VAR_DIR": str(tmp_path)}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='ioc.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.split()
    assert out[-3:] == ["False", "0", "False"]
