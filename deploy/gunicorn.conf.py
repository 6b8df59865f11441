"""Gunicorn for Tipline behind nginx (deploy/nginx/tipline.conf). Copy to /etc/tipline/.

    gunicorn -c /etc/tipline/gunicorn.conf.py 'tipline:create_app()'

Command-line options override these (the tests bind a loopback port of their own that way).
"""

import multiprocessing
import os

# Only nginx on this machine talks to gunicorn; set TIPLINE_PROXY_HOPS=1 so the app believes
# the X-Forwarded-For nginx writes, and nothing else.
bind = "127.0.0.1:8000"

# Sync workers are right behind a buffering proxy: nginx reads each request whole and takes
# each answer at once, so a slow phone never holds a worker. 2 per core plus one.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))

# Each worker builds its own app (no preload): database pools, the limiter's Redis connection
# and the alert dispatcher thread must not be shared across a fork.
preload_app = False

# A request that takes longer than this is stuck (a tip takes milliseconds): the worker is
# replaced. nginx's proxy_read_timeout matches it.
timeout = 30
graceful_timeout = 30
keepalive = 2

# Privacy (PRODUCT.md §6): no access log, ever (it would hold every traveler's address), and a
# logger that removes addresses from error lines, including those about malformed requests.
accesslog = None
errorlog = "-"  # stderr: the systemd journal
loglevel = "info"
logger_class = "tipline.serving.NoAddressLogger"

# Gunicorn's defaults, stated: nginx already refuses anything larger.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# The heartbeat file on tmpfs: a slow or full disk must not make the arbiter kill workers.
worker_tmp_dir = "/dev/shm"
proc_name = "tipline"
# Gunicorn 27's control socket (in $HOME) is not used: systemd controls the service, and one
# fewer socket is one fewer way in. Older gunicorns ignore the name.
control_socket_disable = True


def child_exit(server, worker):
    """A worker's metrics files stop counting as live when it exits (prometheus-client's
    multi-process mode, on when PROMETHEUS_MULTIPROC_DIR is set: see the web unit)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
