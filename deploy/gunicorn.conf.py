"""Gunicorn settings for one application server (docs/deploy.md, "Serving").

    REGISTRY_ENV=production gunicorn -c deploy/gunicorn.conf.py            (or deploy/start)

Every value can be changed through the environment, so one file serves every server size.
"""

import os

#: The application: the factory, called once (in the master, see preload_app).
wsgi_app = "registry:create_app()"
#: nginx on the same host proxies here; never expose gunicorn itself.
bind = os.environ.get("REGISTRY_BIND", "127.0.0.1:8000")

# gthread: each worker process serves requests on a few threads. Measured on this application it
# beats sync workers on every route: most of a request's time is spent waiting on PostgreSQL (and
# argon2 at login runs outside the GIL), and a long export or PDF holds one thread, not a process.
worker_class = "gthread"
#: Two processes per core: the Python parts of a request (templates, ReportLab PDFs) hold the GIL,
#: so threads alone would use one core per process. WEB_CONCURRENCY is gunicorn's own name for it.
workers = int(os.environ.get("REGISTRY_WORKERS") or os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
#: Threads per process. The database pool (registry config DB_POOL_SIZE) defaults to this same
#: variable: one connection per thread, so a request never waits for a connection.
threads = int(os.environ.get("REGISTRY_THREADS", "4"))

# Timeouts. With gthread, `timeout` is how long the worker's main loop may stay silent before the
# master kills it (a stuck process), not a limit on one request: a streamed audit export or an
# annual report may take minutes while its worker keeps answering the master. The limit on a
# request is nginx's proxy_read_timeout (deploy/nginx.conf, 300 s), which must stay above the
# longest export. 120 s still replaces a worker wedged in a C call.
timeout = int(os.environ.get("REGISTRY_TIMEOUT", "120"))
#: On a restart (HUP, a deploy) or at max_requests, a worker finishes its requests in flight for
#: this long before it is killed: long enough for most exports, short enough for a deploy.
graceful_timeout = int(os.environ.get("REGISTRY_GRACEFUL_TIMEOUT", "120"))
#: Seconds an idle connection from nginx stays open (nginx keeps a few per upstream, see keepalive
#: in deploy/nginx.conf), so most requests do not open a new connection.
keepalive = 5
#: Replace each worker after this many requests (with jitter, so they do not all restart at once):
#: bounds any slow growth of memory (fonts and caches of the PDF libraries).
max_requests = int(os.environ.get("REGISTRY_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

# Preload: the master builds the application once, before it forks. The production start checks
# (registry.startup) then run once and refuse before anything listens, instead of once per worker;
# the code and the shipped data (password list, translations) are shared by copy-on-write; a
# worker starts in milliseconds. The cost: a new release needs a restart of the master
# (`systemctl restart`, or USR2 then QUIT for zero downtime), since HUP re-forks the old code; and
# nothing opened before the fork may be shared, so post_fork below drops the database pools.
preload_app = os.environ.get("REGISTRY_PRELOAD", "1") not in ("0", "false", "no", "off")


def post_fork(server, worker):
    """A worker must not reuse the master's database connections (SQLAlchemy's advice for forks)."""
    from registry.extensions import db

    app = getattr(server.app, "callable", None)
    if app is None:  # not preloaded: the worker builds its own app, with its own pools
        return
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


# Logging: to stdout/stderr, which systemd's journal (or the container runtime) keeps.
accesslog = os.environ.get("REGISTRY_ACCESS_LOG", "-")
errorlog = "-"
#: The client as nginx saw it, and the request id the application logged in the audit entry
#: (X-Request-Id, which the application echoes; nginx sets it from $request_id), so an access
#: line, an nginx line and an audit entry can be matched. %(D)s: microseconds taken.
access_log_format = (
    '%({x-forwarded-for}i)s %(h)s %(u)s %(t)s "%(r)s" %(s)s %(B)s %(D)sus "%(a)s" rid=%({x-request-id}o)s'
)
#: Proxy headers for gunicorn's own wsgi.url_scheme: only from nginx on this host. The application
#: reads X-Forwarded-For through REGISTRY_TRUSTED_PROXIES (ProxyFix), not through this.
forwarded_allow_ips = os.environ.get("REGISTRY_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
#: Name the processes in `ps`, so an operator can tell them from other gunicorns.
proc_name = "registry"
