"""Settings refuse bad configuration at start, and what they say is what really applies."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from kombu import Connection

from picpick.core.env import env_bool, env_choice, env_int, env_list, env_str
from picpick.core.secret_key import (
    BUILD_SECRET_KEY,
    LOCAL_SECRET_KEY,
    TEST_SECRET_KEY,
    secret_key_problem,
)
from picpick.settings.base import database_config

ROOT = Path(__file__).resolve().parents[2]
VAR = "PICPICK_OPS_TEST_VALUE"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)


# --- env readers ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["maybe", "2", "yess", "enabled"])
def test_env_bool_refuses_a_value_that_is_not_a_boolean(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match=VAR):
        env_bool(VAR, False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, not expected) is expected


def test_env_bool_falls_back_to_its_default_when_unset():
    assert env_bool(VAR, True) is True


@pytest.mark.parametrize("raw", ["ten", "1.5", "10s", "0x10"])
def test_env_int_refuses_a_value_that_is_not_an_integer(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int(VAR, 1)


def test_env_int_refuses_a_value_below_the_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "59")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 60"):
        env_int(VAR, 3600, minimum=60)


def test_env_int_refuses_a_value_above_the_maximum(monkeypatch):
    monkeypatch.setenv(VAR, "61")
    with pytest.raises(ImproperlyConfigured, match="above the maximum 60"):
        env_int(VAR, 7, maximum=60)


def test_env_int_accepts_the_bounds_themselves(monkeypatch):
    monkeypatch.setenv(VAR, "60")
    assert env_int(VAR, 1, minimum=60, maximum=60) == 60


def test_env_str_refuses_a_missing_required_value():
    with pytest.raises(ImproperlyConfigured, match=f"{VAR} is required"):
        env_str(VAR)


def test_env_str_treats_an_empty_required_value_as_missing(monkeypatch):
    monkeypatch.setenv(VAR, "")
    with pytest.raises(ImproperlyConfigured, match="required"):
        env_str(VAR)


def test_a_secret_is_read_from_its_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-from-a-file\n")
    monkeypatch.setenv(f"{VAR}_FILE", str(secret))
    monkeypatch.setenv(VAR, "ignored-when-a-file-is-given")
    assert env_str(VAR) == "s3cr3t-from-a-file"


def test_a_secret_file_that_cannot_be_read_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(f"{VAR}_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str(VAR, "a default does not hide a broken secret file")


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv(VAR, " a.example , b.example,, ")
    assert env_list(VAR) == ["a.example", "b.example"]


def test_env_choice_refuses_an_unknown_choice(monkeypatch):
    monkeypatch.setenv(VAR, "purple")
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        env_choice(VAR, "red", {"red", "green"})


# --- production settings, imported in a clean process ----------------------------------------

# Made afresh each run: a key written here would be one more committed key production accepts.
GOOD_KEY = secrets.token_urlsafe(64)
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": GOOD_KEY,
    "PICPICK_API_HOSTS": "api.picpick.example",
    "PICPICK_BASE_DOMAIN": "picpick.example",
    "DATABASE_URL": "mysql://picpick:pw@mysql:3306/picpick",
    "REDIS_URL": "redis://redis:6379/0",
}
PROBE = (
    "import json, picpick.settings.production as s; "
    "print(json.dumps({'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'], "
    "'ssl_redirect': s.SECURE_SSL_REDIRECT, 'broker': s.CELERY_BROKER_URL, "
    "'secure_cookies': s.SESSION_COOKIE_SECURE and s.CSRF_COOKIE_SECURE, "
    "'hosts': s.ALLOWED_HOSTS, 'api_hosts': s.PICPICK_API_HOSTS, "
    "'base_domain': s.PICPICK_BASE_DOMAIN, 'site': [s.PICPICK_SITE_SCHEME, s.PICPICK_SITE_PORT], "
    "'middleware': s.MIDDLEWARE[:2]}))"
)


def _import_production(env: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment: nothing from the developer's shell or CI may satisfy a requirement.
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(ROOT)}
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _import_production(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = _import_production({**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short-key"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be at least 50 characters" in result.stderr


@pytest.mark.parametrize(
    "key",
    [LOCAL_SECRET_KEY, TEST_SECRET_KEY, BUILD_SECRET_KEY],
    ids=["local.py", "test.py", "Dockerfile"],
)
def test_production_refuses_the_keys_committed_to_the_repository(key):
    # The local key is exactly 50 characters: the length rule alone let production start with it.
    result = _import_production({**PRODUCTION_ENV, "DJANGO_SECRET_KEY": key})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is a development key committed to the repository" in result.stderr


def test_the_committed_keys_are_the_ones_the_settings_and_the_image_use():
    assert f'"{LOCAL_SECRET_KEY}"' not in (ROOT / "picpick/settings/local.py").read_text()
    assert "LOCAL_SECRET_KEY)" in (ROOT / "picpick/settings/local.py").read_text()
    assert "TEST_SECRET_KEY)" in (ROOT / "picpick/settings/test.py").read_text()
    assert f"DJANGO_SECRET_KEY={BUILD_SECRET_KEY} " in (ROOT / "docker/Dockerfile").read_text()


def test_production_refuses_a_low_entropy_key_from_a_file(tmp_path):
    secret = tmp_path / "django_secret_key"
    secret.write_text("The quick brown fox jumps over the lazy dog. " * 2 + "\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _import_production({**env, "DJANGO_SECRET_KEY_FILE": str(secret)})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY repeats one short pattern" in result.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (LOCAL_SECRET_KEY, "committed to the repository"),
        ("django-insecure-" + secrets.token_urlsafe(64), "django-insecure-"),
        (secrets.token_urlsafe(36)[:49], "at least 50 characters"),
        ("z" * 60, "repeats one short pattern"),  # Django's own rule: < 5 distinct characters
        ("correct-horse-battery-staple-42-and-more-more-more", "fewer than 20 distinct characters"),
        ("Tr0ub4dor&3-" * 6, "repeats one short pattern"),
        (secrets.token_urlsafe(24)[:24] * 3, "repeats one short pattern"),
        ("x" * 60 + "abcdefghijklmnopqrstu", "mostly a few characters"),
        ("0" * 60 + "123456789a", "mostly a few characters"),  # hex
        ("".join(chr(c) for c in range(0x21, 0x7F))[:60], "mostly runs"),
        ("0123456789abcdef" * 3 + "fedcba9876543210" * 2, "mostly runs"),
        (secrets.token_hex(25), "at least 64 characters when it is hex"),
    ],
)
def test_a_key_a_person_made_up_is_refused(key, problem):
    assert problem in (secret_key_problem(key) or "")


@pytest.mark.parametrize(
    "generate",
    [
        lambda: secrets.token_urlsafe(64),
        lambda: secrets.token_urlsafe(38),  # 51 characters
        lambda: secrets.token_hex(32),
        get_random_secret_key,
    ],
    ids=["token_urlsafe(64)", "token_urlsafe(38)", "token_hex(32)", "django"],
)
def test_generated_keys_are_accepted(generate):
    for _ in range(200):
        key = generate()
        assert secret_key_problem(key) is None, key


@pytest.mark.parametrize(
    ("name", "value"),
    [("DJANGO_SECURE_SSL_REDIRECT", "false"), ("DJANGO_SECURE_HSTS_SECONDS", "0")],
)
def test_production_refuses_insecure_transport_without_the_named_override(name, value):
    result = _import_production({**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert f"{name}=" in result.stderr
    assert "PICPICK_ALLOW_INSECURE_TRANSPORT=true" in result.stderr

    allowed = _import_production(
        {**PRODUCTION_ENV, name: value, "PICPICK_ALLOW_INSECURE_TRANSPORT": "true"}
    )
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("PICPICK_API_HOSTS", "PICPICK_API_HOSTS is required"),
        ("PICPICK_BASE_DOMAIN", "PICPICK_BASE_DOMAIN is required"),
        ("DATABASE_URL", "Production runs on MySQL"),
        ("REDIS_URL", "Production needs REDIS_URL"),
    ],
)
def test_production_refuses_to_start_without_its_services(missing, message):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _import_production(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_a_malformed_flag():
    result = _import_production({**PRODUCTION_ENV, "DJANGO_SECURE_SSL_REDIRECT": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_SECURE_SSL_REDIRECT='maybe' is not a boolean" in result.stderr


def test_production_starts_with_everything_set():
    result = _import_production(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "debug": False,
        "engine": "django.db.backends.mysql",
        "ssl_redirect": True,
        "broker": "redis://redis:6379/0",
        "secure_cookies": True,
        # Django's host check is off: HostRoutingMiddleware is the check, right after the
        # request's id, log line and metrics (which read nothing from the host).
        "hosts": ["*"],
        "api_hosts": ["api.picpick.example"],
        "base_domain": "picpick.example",
        "site": ["https", None],
        "middleware": [
            "picpick.core.observability.middleware.RequestObservabilityMiddleware",
            "domains.middleware.HostRoutingMiddleware",
        ],
    }


def test_production_reads_its_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "django_secret_key"
    secret.write_text(GOOD_KEY + "\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _import_production({**env, "DJANGO_SECRET_KEY_FILE": str(secret)})
    assert result.returncode == 0, result.stderr


def test_a_soft_time_limit_at_or_above_the_hard_limit_is_refused():
    result = _import_production(
        {**PRODUCTION_ENV, "CELERY_TASK_SOFT_TIME_LIMIT": "360", "CELERY_TASK_TIME_LIMIT": "360"}
    )
    assert result.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT" in result.stderr


def test_a_visibility_timeout_shorter_than_a_task_may_run_is_refused():
    result = _import_production(
        {**PRODUCTION_ENV, "CELERY_TASK_TIME_LIMIT": "7200", "CELERY_VISIBILITY_TIMEOUT": "3600"}
    )
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT" in result.stderr


# --- Celery really applies the settings -------------------------------------------------------


def test_celery_app_applies_the_settings():
    from picpick.celery import app

    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit == settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_default_queue == "default"
    assert {queue.name for queue in conf.task_queues} == {"default", "media", "faces", "billing"}
    assert conf.task_routes == {
        "galleries.tasks.*": {"queue": "media"},
        "faces.tasks.*": {"queue": "faces"},
        "billing.tasks.*": {"queue": "billing"},
    }


@pytest.fixture
def probe_tasks():
    """Tasks declared here with the names real app tasks would have, removed afterwards."""
    from picpick.celery import app

    names = {
        "galleries.tasks.ops_probe": "media",
        "faces.tasks.ops_probe": "faces",
        "billing.tasks.ops_probe": "billing",
        "accounts.tasks.ops_probe": "default",
    }
    tasks = {}
    for name in names:

        @app.task(name=name)
        def probe() -> None:
            return None

        tasks[name] = probe
    yield app, tasks, names
    for name in names:
        app.tasks.pop(name, None)


def test_tasks_are_routed_to_their_queue(probe_tasks):
    app, tasks, expected = probe_tasks
    for name, task in tasks.items():
        route = app.amqp.router.route({}, task.name)
        assert route["queue"].name == expected[name], name


def test_a_published_task_lands_in_its_queue_only(probe_tasks, monkeypatch):
    """Publishes through a real (in-memory) broker and counts the messages in every queue.

    All four queues share Celery's default exchange; this proves a task for one queue is not
    copied to the others.
    """
    app, tasks, expected = probe_tasks
    # The test settings run tasks eagerly; this test needs them really published.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with Connection("memory://") as connection:
        channel = connection.default_channel
        declared = [queue.bind(channel) for queue in app.amqp.queues.values()]
        for queue in declared:
            queue.declare()
            queue.purge()
        try:
            for name, task in tasks.items():
                task.apply_async(connection=connection)
                sizes = {
                    queue.name: queue.queue_declare(passive=True).message_count
                    for queue in declared
                }
                assert sizes == {q: int(q == expected[name]) for q in sizes}, name
                declared[0].channel.queue_purge(expected[name])
        finally:
            for queue in declared:
                queue.purge()


# --- database configuration --------------------------------------------------------------------


def test_mysql_database_config_is_safe_for_django():
    config = database_config("mysql://u:p@h:3306/db")
    assert config["ENGINE"] == "django.db.backends.mysql"
    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == (
        "db",
        "u",
        "h",
        3306,
    )
    options = config["OPTIONS"]
    assert options["charset"] == "utf8mb4"
    assert options["isolation_level"] == "read committed"
    assert "STRICT_TRANS_TABLES" in options["init_command"]
    assert config["CONN_MAX_AGE"] > 0
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["TEST"]["CHARSET"] == "utf8mb4"


def test_mysql_connection_age_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "-1")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        database_config("mysql://u:p@h:3306/db")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "120")
    assert database_config("mysql://u:p@h:3306/db")["CONN_MAX_AGE"] == 120


def test_sqlite_database_config_waits_instead_of_failing_on_a_lock(tmp_path):
    config = database_config(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] > 0


# --- hosts and custom domains ------------------------------------------------------------------


def test_the_old_allowed_hosts_variable_is_gone_everywhere():
    for name in ("Makefile", ".env.example", "docker-compose.yml", "picpick/settings/base.py"):
        text = (ROOT / name).read_text()
        assert "DJANGO_ALLOWED_HOSTS" not in text, name
    for path in (ROOT / "picpick" / "settings").glob("*.py"):
        assert "DJANGO_ALLOWED_HOSTS" not in path.read_text(), path.name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PICPICK_EDGE_IPV4", "203.0.113.10,not-an-ip", "PICPICK_EDGE_IPV4"),
        ("PICPICK_EDGE_IPV4", "2001:db8::1", "PICPICK_EDGE_IPV4 must list IPv4 addresses only"),
        ("PICPICK_EDGE_IPV6", "203.0.113.10", "PICPICK_EDGE_IPV6 must list IPv6 addresses only"),
        ("PICPICK_DNS_RESOLVER", "dns.example:53", "is not ADDRESS[:PORT]"),
        ("PICPICK_DNS_RESOLVER", "127.0.0.1:70000", "out of range"),
        ("PICPICK_BASE_DOMAIN", "not a domain", "is not a hostname"),
        ("PICPICK_SITE_SCHEME", "ftp", "must be one of"),
    ],
)
def test_domain_settings_refuse_bad_values(name, value, message):
    result = _import_production({**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_dns_resolvers_are_parsed_with_their_ports():
    from picpick.settings.base import dns_resolvers

    assert dns_resolvers("X", ["192.0.2.53", "127.0.0.1:5353", "[2001:db8::53]:5300"]) == [
        ("192.0.2.53", 53),
        ("127.0.0.1", 5353),
        ("2001:db8::53", 5300),
    ]


def test_local_settings_serve_studio_sites_on_the_port_make_run_uses():
    probe = (
        "import json, picpick.settings.local as s; "
        "print(json.dumps([s.PICPICK_SITE_SCHEME, s.PICPICK_SITE_PORT, s.PICPICK_BASE_DOMAIN]))"
    )
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(ROOT)}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**base, "PICPICK_PUBLIC_URL": "http://127.0.0.1:8000"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # make run: http://demo.localhost:8000 (browsers resolve *.localhost to loopback)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["http", 8000, "localhost"]


def test_test_settings_never_ask_a_real_resolver():
    # Tests that need DNS start their own server on loopback; everything else hits a dead port.
    assert settings.PICPICK_DNS_RESOLVER == [("127.0.0.1", 9)]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PICPICK_TRUSTED_PROXIES", "caddy", "'caddy' is not an IP address or CIDR"),
        ("PICPICK_TRUSTED_PROXIES", "172.31.250.0/33", "is not an IP address or CIDR"),
        ("THROTTLE_AUTH", "20", "THROTTLE_AUTH: '20' is not a rate"),
        ("THROTTLE_PASSWORD_RESET", "5/fortnight", "is not a rate"),
    ],
)
def test_client_address_and_limit_settings_refuse_bad_values(name, value, message):
    result = _import_production({**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_trusted_proxies_are_read_as_networks():
    probe = "import picpick.settings.production as s; print(s.PICPICK_TRUSTED_PROXIES)"
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(ROOT)}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**base, **PRODUCTION_ENV, "PICPICK_TRUSTED_PROXIES": "172.31.250.0/24, 10.0.0.5"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['172.31.250.0/24', '10.0.0.5/32']"
