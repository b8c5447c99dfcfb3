"""docker-compose.yml cannot run here (no Docker engine): check it against the supervisord
configuration that `make serve` runs, so the two stay the same processes."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def supervised() -> dict[str, list[str]]:
    """The programs of deploy/supervisord.conf: name -> the command it execs, with each
    ``${VAR:-default}`` knob as X."""
    config = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "supervisord.conf")
    processes = {}
    for section in config.sections():
        if section.startswith("program:"):
            shell, flag, script = shlex.split(config[section]["command"])
            assert (shell, flag) == ("sh", "-c"), section
            words = shlex.split(re.sub(r"\$\{[^}]+\}", "X", script))
            assert words[0] == "exec", section  # supervisord signals the program itself
            processes[section.removeprefix("program:")] = words[1:]
    return processes


def compose() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_supervised_process_is_a_compose_service_running_the_same_program() -> None:
    services = compose()
    for name, command in supervised().items():
        assert name in services, f"docker-compose.yml lacks the {name!r} process"
        service_command = services[name]["command"]
        assert service_command[:2] == command[:2], name
        for option in ("--queues", "--workers", "--concurrency"):
            if option in command and option in service_command:
                index, service_index = command.index(option), service_command.index(option)
                if command[index + 1] != "X":
                    assert service_command[service_index + 1] == command[index + 1], (name, option)


def test_compose_runs_postgres_16_and_redis_7_with_append_only_persistence() -> None:
    services = compose()
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "--appendonly" in services["redis"]["command"]
    assert (
        services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1]
        == "yes"
    )


def test_compose_app_services_wait_for_migrations_and_get_the_stack_urls() -> None:
    services = compose()
    for name in supervised():
        depends = services[name].get("depends_on", {})
        assert depends.get("migrate", {}).get("condition") == "service_completed_successfully", name
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")


def test_proxy_routes_websockets_to_the_asgi_service() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "location /ws/" in config and "proxy_pass http://ws:8001" in config
    assert "proxy_pass http://web:8000" in config
    assert compose()["proxy"]["volumes"][0].startswith("./deploy/nginx.conf:")


def test_gunicorn_reads_its_settings_file_in_the_image_and_freezes_the_loaded_objects() -> None:
    import gc
    import runpy

    from gunicorn.config import Config

    assert Config().settings["config"].default == "./gunicorn.conf.py"  # read by default
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "post_worker_init" in settings
    copied = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "COPY" in line]
    assert any("gunicorn.conf.py" in line for line in copied)
    docker_workdir = re.search(r"^WORKDIR (\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert docker_workdir is not None  # gunicorn reads ./gunicorn.conf.py from there
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_make_serve_starts_every_process_again_when_it_exits() -> None:
    config = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "supervisord.conf")
    programs = [section for section in config.sections() if section.startswith("program:")]

    assert sorted(programs) == [f"program:{name}" for name in sorted(supervised())]
    for section in programs:
        assert config[section]["autorestart"] == "true", section
        # A worker that keeps failing to start (Redis still away) must not give up for good.
        assert int(config[section]["startretries"]) >= 100, section
        assert config[section]["stopasgroup"] == "true", section


def test_the_proxy_logs_no_query_string() -> None:
    """A citizen's private link (/track/<code>/?key=...) must not land in the proxy's log."""
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    formats = dict(re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", nginx))
    used = re.findall(r"^\s*access_log\s+\S+\s+(\w+);", nginx, flags=re.MULTILINE)

    assert used, "the server block names its access log format"
    for name in used:
        assert name in formats, name
        # $request and $request_uri carry the query string, as $args and $query_string are.
        assert not re.search(r"\$(request|request_uri|args|query_string)\b", formats[name])


def test_each_video_relay_base_reaches_an_asgi_service_of_its_own_through_the_proxy() -> None:
    """The compose stack's relays: every base of IOC_VIDEO_RELAY_URLS is a proxy location
    that upgrades to a websocket and hands the relay /video/<path>, on a service of its own
    running the ASGI application on the port the location names."""
    services = compose()
    default = re.fullmatch(
        r"\$\{IOC_VIDEO_RELAY_URLS:-([^}]+)\}",
        services["web"]["environment"]["IOC_VIDEO_RELAY_URLS"],
    )
    assert default is not None
    bases = default.group(1).split(",")
    assert len(bases) >= 2, "the stack shows scale-out: more than one relay"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    locations = dict(re.findall(r"location (\S+) \{(.*?)\n    \}", nginx, flags=re.S))
    relay_services = set()
    for base in bases:
        assert base in locations, f"no proxy location for the relay base {base}"
        body = locations[base]
        target = re.search(r"proxy_pass http://([\w-]+):(\d+)(/\S*);", body)
        assert target is not None, base
        name, port, path = target.groups()
        assert path == "/video/", "the relay serves /video/cameras/<code>/<quality>"
        assert "proxy_set_header Upgrade $http_upgrade;" in body
        assert "proxy_buffering off;" in body
        command = services[name]["command"]
        assert command[:2] == ["uvicorn", "ioc.asgi:application"], name
        assert command[command.index("--port") + 1] == port, name
        assert name not in ("web", "ws"), "a relay runs beside the web processes, not in them"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        relay_services.add(name)
    assert len(relay_services) == len(bases), "each base is its own relay process"
    # Every app service shares the volume holding the generated signing key, so the tokens
    # the web processes sign verify on every relay.
    for name in ("web", *relay_services):
        assert "media:/var/lib/ioc" in services[name]["volumes"], name
