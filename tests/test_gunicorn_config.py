"""kb/ops/gunicorn.conf.py and kb/ops/gunicorn_worker.py: logs, the control socket, whole requests before a thread.

That 120 slow clients no longer stop the site is measured by bench/slow_clients.py (timing stays out of tests).
"""

import runpy

import pytest
from django.conf import settings

from kb.ops import gunicorn_worker
from kb.ops.gunicorn_worker import request_state

CONFIG = settings.BASE_DIR / "kb" / "ops" / "gunicorn.conf.py"


def config(monkeypatch, **env):
    for name in ("GUNICORN_CONTROL_SOCKET", "GUNICORN_ACCESS_LOG", "GUNICORN_ERROR_LOG", "GUNICORN_WORKER_CLASS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_logs_go_to_stdout_and_stderr(monkeypatch):
    values = config(monkeypatch)
    assert values["accesslog"] == "-"
    assert values["errorlog"] == "-"


def test_the_control_socket_is_off_unless_given_a_path_of_its_own(monkeypatch):
    assert config(monkeypatch)["control_socket_disable"] is True
    values = config(monkeypatch, GUNICORN_CONTROL_SOCKET="/run/kb/one.ctl")
    assert values["control_socket"] == "/run/kb/one.ctl"
    assert "control_socket_disable" not in values


def test_the_worker_class_reads_whole_requests(monkeypatch):
    from gunicorn.util import load_class

    worker = load_class(config(monkeypatch)["worker_class"])
    assert worker is gunicorn_worker.BufferingThreadWorker


HEAD = b"POST /admin/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "state"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", "incomplete"),  # headers not finished
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "complete"),
        (HEAD + b"12345", "incomplete"),  # a slow body: no thread until it is all here
        (HEAD + b"1234567890", "complete"),
        (HEAD.replace(b"Content-Length", b"content-LENGTH") + b"12345", "incomplete"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "incomplete"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "complete"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000, "431 Request Header Fields Too Large"),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", "413 Content Too Large"),
    ],
)
def test_request_state(data, state):
    assert request_state(data) == state
