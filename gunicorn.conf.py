"""Production settings for ``gunicorn wsgi:app`` (gunicorn reads this file from the working
directory). Put a buffering reverse proxy in front (deploy/nginx.conf): gunicorn's threads
read the request body themselves, so a client sending its body slowly holds a thread for as
long as it likes; the proxy takes the whole body first, with its own timeouts, and hands
gunicorn only complete requests.

Every value can be set from the environment (``GUNICORN_*``) without editing this file.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # only the proxy reaches it
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A worker that stops answering its arbiter for this long is killed and replaced; a
# request that takes this long (a stuck upstream) frees its thread when the worker goes.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
# Request heads are small; refuse giant ones before the app sees them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# The proxy is the only client: trust its X-Forwarded-* (set ISSUER_PROXY_HOPS=1 too).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access log without the query string (%(U)s is the path only): links may carry tokens.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def post_worker_init(worker: object) -> None:
    """Start the work the service does without a request (mail delivery, bulk jobs) in each
    worker, once it has forked and loaded the app: threads started in the arbiter (with
    ``--preload`` it builds the app) would not exist in the workers."""
    from issuer import start_background_work

    start_background_work(worker.wsgi)  # type: ignore[attr-defined]
