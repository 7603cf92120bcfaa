"""Production: no default secret, HTTPS everywhere, MySQL and Redis required."""

from django.core.exceptions import ImproperlyConfigured

from picpick.core.env import env_bool, env_choice, env_int, env_list, env_str
from picpick.core.secret_key import GENERATE, secret_key_problem

from .base import *  # noqa: F403
from .base import DATABASES, LOGGING, REDIS_URL

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # required: refuses to start without it
if (_problem := secret_key_problem(SECRET_KEY)) is not None:
    raise ImproperlyConfigured(f"DJANGO_SECRET_KEY {_problem}; generate one with: {GENERATE}")
# ALLOWED_HOSTS stays ["*"] (base.py): domains.middleware.HostRoutingMiddleware validates hosts.
PICPICK_API_HOSTS = [host.lower() for host in env_list("PICPICK_API_HOSTS")]
if not PICPICK_API_HOSTS:
    raise ImproperlyConfigured("PICPICK_API_HOSTS is required in production.")
env_str("PICPICK_BASE_DOMAIN")  # required here; base.py read it (and defaults it elsewhere)
if DATABASES["default"]["ENGINE"] != "django.db.backends.mysql":
    raise ImproperlyConfigured("Production runs on MySQL: set DATABASE_URL=mysql://...")
if not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL (cache and Celery broker).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# The load balancer's probes and Prometheus call web directly, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^internal/"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
# Tokens travel in headers and cookies: plain HTTP, or HTTPS a browser may be talked out of,
# hands them to anyone on the path. Switching either off takes a second, named decision (a
# deployment whose TLS ends at another proxy that redirects and sends HSTS itself).
PICPICK_ALLOW_INSECURE_TRANSPORT = env_bool("PICPICK_ALLOW_INSECURE_TRANSPORT", False)
if not PICPICK_ALLOW_INSECURE_TRANSPORT:
    if not SECURE_SSL_REDIRECT:
        raise ImproperlyConfigured(
            "DJANGO_SECURE_SSL_REDIRECT=false serves the API over plain HTTP; set "
            "PICPICK_ALLOW_INSECURE_TRANSPORT=true if something in front redirects to HTTPS."
        )
    if SECURE_HSTS_SECONDS == 0:
        raise ImproperlyConfigured(
            "DJANGO_SECURE_HSTS_SECONDS=0 sends no HSTS; set "
            "PICPICK_ALLOW_INSECURE_TRANSPORT=true if something in front sends it."
        )
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
# Without these the SMTP backend would silently try localhost:25 (nothing listens there).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)

# One JSON object per log line for the log collector (PICPICK_LOG_FORMAT=plain to read them raw).
PICPICK_LOG_FORMAT = env_choice("PICPICK_LOG_FORMAT", "json", {"plain", "json"})
LOGGING["handlers"]["console"]["formatter"] = PICPICK_LOG_FORMAT
