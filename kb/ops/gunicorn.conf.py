"""gunicorn settings for the production stack (``gunicorn kb.wsgi -c kb/ops/gunicorn.conf.py``).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.

Production runs behind a buffering reverse proxy (see the README's nginx block), which
reads whole request bodies before gunicorn sees them. On its own, gunicorn still refuses
to be starved by slow clients: its workers (kb.ops.gunicorn_worker) are gthread workers
that collect each whole request on their event loop before a thread serves it, so a
client that trickles its body holds a socket, not one of the few threads; with plain
gthread, 120 such connections stopped the site (bench/slow_clients.py).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The usual rule: two per core, plus one.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "kb.ops.gunicorn_worker.BufferingThreadWorker")
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# Open connections per worker, those still sending their request included.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
keepalive = 5
timeout = 30
graceful_timeout = 20
max_requests = 5000
max_requests_jitter = 500

# Logs: access log to standard output, errors to standard error (one line per request/record).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'

forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn 27 opens a control socket at a path shared by every instance of the user
# (~/.gunicorn/gunicorn.ctl): a second gunicorn (a benchmark, another release) would take it
# over and delete it on exit. Off unless GUNICORN_CONTROL_SOCKET names this instance's own path.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
