"""Logs an operator can read: one JSON object per line on standard error (see LOGGING in kb.settings).

Every record has its time, level, logger and message; a request error adds the
method, path, status and the traceback (escaped, so a record stays on one line);
any ``extra={...}`` given to a ``kb.*`` logger (counts of a content load, a slow
request's duration) is carried as its own key.
"""

import json
import logging
import time

from django.conf import settings

# Attributes every LogRecord has: the rest were passed as extra={...}.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

requests_log = logging.getLogger("kb.requests")


class OneLineFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            entry["method"] = request.method
            entry["path"] = request.path
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in ("request", "status_code") and not name.startswith("_"):
                entry[name] = value
        if getattr(record, "status_code", None) is not None:
            entry["status"] = record.status_code
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["traceback"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)

    converter = time.gmtime


class SlowRequestMiddleware:
    """A warning for every request slower than DJANGO_SLOW_REQUEST_MS (with its path, status and time)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        threshold = settings.SLOW_REQUEST_MS
        elapsed_ms = (time.monotonic() - started) * 1000
        if threshold and elapsed_ms > threshold:
            requests_log.warning(
                "slow request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed_ms),
                },
            )
        return response
