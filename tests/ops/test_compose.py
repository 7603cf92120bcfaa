"""docker-compose.yml only names things that exist: modules, queues, commands, files, variables."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
# ${VAR}, ${VAR:-default}, ${VAR:?error}; `$${VAR}` is left to the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
SETTINGS_READS = re.compile(r"env_(?:str|int|bool|list|choice|rate)\(\s*\"([A-Z0-9_]+)\"")


def _documented() -> set[str]:
    """Variable names in .env.example, set (NAME=) or shown commented out (# NAME=)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def _argv(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _option(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def _builds_our_image(service: dict) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("picpick")


def test_the_production_topology_is_complete():
    assert {
        "mysql",
        "redis",
        "minio",
        "createbuckets",
        "migrate",
        "web",
        "worker-default",
        "worker-media",
        "worker-faces",
        "worker-billing",
        "beat",
        "caddy",
    } <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_a_build(name):
    service = SERVICES[name]
    assert service.get("image") or service.get("build"), name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_dependency_is_a_service(name):
    depends_on = SERVICES[name].get("depends_on") or {}
    names = depends_on if isinstance(depends_on, list) else list(depends_on)
    for dependency in names:
        assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        if isinstance(depends_on, dict):
            condition = depends_on[dependency].get("condition", "service_started")
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"


@pytest.mark.parametrize(
    "name",
    ["web", "events", "beat", "worker-default", "worker-media", "worker-faces", "worker-billing"],
)
def test_everything_that_uses_the_schema_waits_for_migrations(name):
    assert SERVICES[name]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if _builds_our_image(s)))
def test_our_services_run_production_settings_from_env_file(name):
    service = SERVICES[name]
    assert service["env_file"] in (".env", [".env"])
    assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "picpick.settings.production"
    assert (ROOT / "picpick" / "settings" / "production.py").is_file()


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if _builds_our_image(s)))
def test_every_command_of_our_image_refers_to_something_that_exists(name):
    argv = _argv(SERVICES[name])
    assert argv, f"{name} has no command"
    program = argv[0]
    if program == "celery":
        app_module = _option(argv, "-A", "--app")
        module = importlib.import_module(f"{app_module}.celery")
        assert hasattr(module, "app"), f"{app_module}.celery has no app"
        subcommand = argv[argv.index(app_module) + 1]
        assert subcommand in {"worker", "beat"}
        if subcommand == "worker":
            queues = (_option(argv, "-Q", "--queues") or "").split(",")
            known = {queue.name for queue in settings.CELERY_TASK_QUEUES}
            assert queues != [""], f"{name} consumes no explicit queue"
            assert set(queues) <= known, f"{name} consumes unknown queues {set(queues) - known}"
    elif program == "gunicorn":
        target = next(arg for arg in argv[1:] if not arg.startswith("-"))
        module_name, _, attribute = target.partition(":")
        module = importlib.import_module(module_name)
        assert hasattr(module, attribute or "application"), target
    elif program == "uvicorn":
        target = next(arg for arg in argv[1:] if not arg.startswith("-"))
        module_name, _, attribute = target.partition(":")
        module = importlib.import_module(module_name)
        assert hasattr(module, attribute), target
    elif program == "python":
        assert argv[1] == "manage.py"
        assert (ROOT / "manage.py").exists()
        assert argv[2] in get_commands(), f"no management command {argv[2]!r}"
    else:
        pytest.fail(f"{name} runs {program!r}, which this test does not know how to check")


def test_each_queue_has_exactly_one_worker():
    consumed: list[str] = []
    for service in SERVICES.values():
        argv = _argv(service)
        if argv[:1] == ["celery"] and "worker" in argv:
            consumed += (_option(argv, "-Q", "--queues") or "").split(",")
    assert sorted(consumed) == sorted(queue.name for queue in settings.CELERY_TASK_QUEUES)


def test_exactly_one_beat():
    beats = [n for n, s in SERVICES.items() if _argv(s)[:1] == ["celery"] and "beat" in _argv(s)]
    assert beats == ["beat"]
    assert "deploy" not in SERVICES["beat"] or SERVICES["beat"]["deploy"].get("replicas", 1) == 1


def test_every_interpolated_variable_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(INTERPOLATION.findall(text))
    assert used, "the pattern found no variable at all"
    missing = used - _documented()
    assert not missing, f"used in docker-compose.yml but not in .env.example: {sorted(missing)}"


def test_every_variable_the_settings_read_is_documented_in_env_example():
    read: set[str] = set()
    for path in (ROOT / "picpick" / "settings").glob("*.py"):
        read |= set(SETTINGS_READS.findall(path.read_text()))
    assert "DJANGO_SECRET_KEY" in read
    missing = read - _documented()
    assert not missing, f"read by settings but not in .env.example: {sorted(missing)}"


def test_env_example_holds_no_secret_values():
    for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE):
        if SECRET_NAME.search(name):
            assert value == "", f"{name} has a value in .env.example"


def _environment(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_is_written_into_compose(name):
    for key, value in _environment(SERVICES[name]).items():
        if SECRET_NAME.search(key):
            assert INTERPOLATION.fullmatch(value), f"{name}.{key} must reference a variable"
        # Credentials inside a URL must come from variables too.
        for credentials in re.findall(r"://([^@/\s]+)@", value):
            password = credentials.partition(":")[2]
            assert not password or INTERPOLATION.fullmatch(password), f"{name}.{key}"


def test_dockerfile_and_caddyfile_exist_and_are_the_ones_used():
    build = SERVICES["web"]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file()
    text = dockerfile.read_text()
    assert "FROM python:3.11-slim" in text or "PYTHON_IMAGE=python:3.11-slim" in text
    assert "uv sync --frozen --extra mysql --no-dev" in text
    assert "collectstatic" in text
    assert re.search(r"^USER (?!root)\S+", text, flags=re.MULTILINE), "runs as root"

    mounts = [volume.split(":") for volume in SERVICES["caddy"]["volumes"]]
    caddyfile = next(ROOT / source for source, target, *_ in mounts if target.endswith("Caddyfile"))
    assert caddyfile.is_file()
    caddy = caddyfile.read_text()
    assert "reverse_proxy web:8000" in caddy
    assert re.search(r"on_demand_tls\s*\{\s*ask http://web:8000/internal/tls-ask", caddy)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounted_files_exist(name):
    for volume in SERVICES[name].get("volumes") or []:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        else:
            assert source in (COMPOSE.get("volumes") or {}), f"{name} uses undeclared {source}"


def test_caddy_publishes_http_and_https_and_web_is_not_published():
    ports = {str(port).split(":")[-2] for port in SERVICES["caddy"]["ports"]}
    assert {"80", "443"} <= ports
    assert "ports" not in SERVICES["web"]
    assert SERVICES["caddy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_mysql_is_8_with_utf8mb4_and_a_healthcheck():
    mysql = SERVICES["mysql"]
    assert re.fullmatch(r"mysql:8(\.\d+)*", mysql["image"])
    assert "--character-set-server=utf8mb4" in _argv(mysql)
    assert "healthcheck" in mysql


def test_createbuckets_is_a_one_shot_mc_job():
    job = SERVICES["createbuckets"]
    assert job["image"].startswith("minio/mc")
    assert job["restart"] == "no"
    assert job["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb" in " ".join(job["entrypoint"])


# --- host routing and on-demand TLS ----------------------------------------------------------


def _caddy_blocks(text: str) -> dict[str, str]:
    """Top-level Caddyfile blocks by their address line, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    blocks: dict[str, str] = {}
    depth, current, body = 0, None, []
    for line in lines:
        if depth == 0 and line.rstrip().endswith("{"):
            current, body = line.rstrip()[:-1].strip(), []
        elif current is not None:
            body.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and current is not None:
            blocks[current] = "\n".join(body)
            current = None
    return blocks


CADDY = _caddy_blocks((ROOT / "docker" / "Caddyfile").read_text())


def test_caddy_asks_web_before_every_on_demand_certificate():
    from django.urls import resolve

    from domains.views import tls_ask

    match = re.search(r"ask (http://([^/:]+):(\d+)(/\S+))", CADDY[""])
    assert match, "no on_demand_tls ask in the global options"
    _, host, port, path = match.groups()
    assert host == "web" and port == "8000"
    # The ask host is one of the internal hosts web is told about, and the path is the ask view
    # on the internal hosts' URL list.
    internal = SERVICES["web"]["environment"]["PICPICK_INTERNAL_HOSTS"].split(",")
    assert host in internal
    assert resolve(path, urlconf="picpick.urls_internal").func is tls_ask


def test_studio_sites_get_certificates_on_demand_and_the_api_its_own():
    on_demand = [a for a, body in CADDY.items() if re.search(r"tls\s*\{\s*on_demand\s*\}", body)]
    assert on_demand == ["https://"], "the catch-all site must use on-demand certificates"
    assert "import app" in CADDY["https://"]
    assert "import app" in CADDY["{$PICPICK_DOMAIN}"]
    assert "on_demand" not in CADDY["{$PICPICK_DOMAIN}"]


def test_caddy_passes_the_host_on_and_sets_the_forwarded_proto():
    app = CADDY["(app)"]
    assert "reverse_proxy web:8000" in app
    assert "header_up X-Forwarded-Proto {scheme}" in app
    assert "header_up Host" not in app  # the Host header routes studio sites: never rewritten


def test_the_web_healthcheck_asks_readiness_with_an_internal_host():
    from django.urls import resolve

    from picpick.core.observability.views import readyz

    command = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "PICPICK_INTERNAL_HOSTS" in command
    assert "http://127.0.0.1:8000/readyz" in command
    assert resolve("/readyz", urlconf="picpick.urls_internal").func is readyz
    assert "DJANGO_ALLOWED_HOSTS" not in (ROOT / "docker-compose.yml").read_text()


def test_every_service_of_our_image_knows_the_internal_host():
    for name, service in SERVICES.items():
        if _builds_our_image(service):
            assert _environment(service).get("PICPICK_INTERNAL_HOSTS") == "web", name


def test_env_example_requires_the_api_hosts_and_the_base_domain():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE))
    assert values["PICPICK_API_HOSTS"] == values["PICPICK_DOMAIN"] == "api.picpick.example"
    assert values["PICPICK_BASE_DOMAIN"] == "picpick.example"


# --- client addresses: web believes Caddy only ------------------------------------------------


def _default(value: str) -> str:
    """``${NAME:-default}`` -> ``default``; a literal stays as it is."""
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^}]*)\}", value)
    return match[1] if match else value


def test_web_trusts_forwarding_headers_from_caddys_network_only():
    from picpick.core.clientaddr import trusted_proxies

    subnet = COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert _environment(SERVICES["web"])["PICPICK_TRUSTED_PROXIES"] == subnet
    assert trusted_proxies("X", [_default(subnet)]) == ["172.31.250.0/24"]
    # Caddy is on that network alone, web on it and the default one; nothing else is on it,
    # so no other container can send web a believed X-Forwarded-For.
    assert SERVICES["caddy"]["networks"] == ["edge"]
    assert set(SERVICES["web"]["networks"]) == {"default", "edge"}
    others = [n for n, s in SERVICES.items() if "edge" in (s.get("networks") or [])]
    assert sorted(others) == ["caddy", "events", "web"]
    # gunicorn believes X-Forwarded-Proto from the same network, not from anyone.
    assert _option(_argv(SERVICES["web"]), "--forwarded-allow-ips") == subnet
    assert "CADDY_SUBNET" in _documented()


def test_caddy_writes_the_client_address_instead_of_passing_on_the_clients_header():
    app = CADDY["(app)"]
    # Replaced, not appended to: a value a client sent never reaches web.
    assert "header_up X-Forwarded-For {client_ip}" in app


def test_web_has_no_gunicorn_access_log_the_app_logs_each_request():
    # The app's line has the client's address as picpick.core.clientaddr reads it (Caddy's
    # X-Forwarded-For), the route, the studio and the request id; gunicorn's would repeat it.
    argv = _argv(SERVICES["web"])
    assert _option(argv, "--access-logfile") is None
    assert _option(argv, "--access-logformat") is None
    assert (
        (settings.MIDDLEWARE[0])
        == "picpick.core.observability.middleware.RequestObservabilityMiddleware"
    )


# --- metrics: several processes per container add up, and Prometheus reaches every one ------


def _metrics_services() -> list[str]:
    return ["web", "events", *sorted(n for n in SERVICES if n.startswith("worker-"))]


def test_web_runs_gunicorn_with_the_hooks_that_keep_metrics_adding_up():
    config = _option(_argv(SERVICES["web"]), "--config", "-c")
    assert config == "docker/gunicorn.conf.py"
    text = (ROOT / config).read_text()
    assert "def on_starting" in text and "def child_exit" in text
    assert "accesslog = None" in text


@pytest.mark.parametrize("name", _metrics_services())
def test_every_multi_process_service_has_its_own_empty_metrics_folder(name):
    service = SERVICES[name]
    folder = _environment(service)["PROMETHEUS_MULTIPROC_DIR"]
    # A tmpfs: empty at every start, never shared with another container.
    assert any(mount.split(":", 1)[0] == folder for mount in service["tmpfs"])
    assert "uid=10001" in " ".join(service["tmpfs"])  # the image's user (docker/Dockerfile)
    assert "--uid 10001" in (ROOT / "docker" / "Dockerfile").read_text()


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if n.startswith("worker-")))
def test_every_worker_serves_its_metrics_on_its_own_port(name):
    service = SERVICES[name]
    port = _environment(service)["PICPICK_WORKER_METRICS_PORT"]
    assert port in [str(p) for p in service["expose"]]
    assert "ports" not in service  # inside the deployment only


# --- live progress: the event streams on their own ASGI service -------------------------------


def test_the_event_streams_run_on_uvicorn_behind_caddy_unbuffered():
    from django.urls import resolve

    events = SERVICES["events"]
    argv = _argv(events)
    assert argv[:2] == ["uvicorn", "picpick.asgi:application"]
    assert _option(argv, "--port") == "8001"
    assert _default(_option(argv, "--workers")) == "2"
    assert "--proxy-headers" in argv
    subnet = COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert _option(argv, "--forwarded-allow-ips") == subnet
    assert _environment(events)["PICPICK_TRUSTED_PROXIES"] == subnet
    assert set(events["networks"]) == {"default", "edge"}
    assert "8001" in [str(port) for port in events["expose"]]
    assert "ports" not in events
    assert "127.0.0.1:8001/healthz" in " ".join(events["healthcheck"]["test"])
    assert SERVICES["caddy"]["depends_on"]["events"]["condition"] == "service_healthy"
    assert "EVENTS_WORKERS" in _documented()

    app = CADDY["(app)"]
    match = re.search(r"path_regexp \w+ (\S+)", app)
    assert match, "no route for the event streams"
    route = re.compile(match[1])
    stream = "/api/v1/galleries/01a25000-0000-7000-8000-000000000000/events/"
    assert route.fullmatch(stream)
    assert resolve(stream).url_name == "gallery-events"
    assert not route.fullmatch(stream + "ticket/")  # the ticket, a POST, stays on web
    assert "method GET" in app
    block = app[app.index("handle @events") :]
    block = block[: block.index("handle {")]
    assert "reverse_proxy events:8001" in block
    assert "flush_interval -1" in block
    assert "encode" not in block  # compression would hold events back
    assert "header_up X-Forwarded-For {client_ip}" in block
