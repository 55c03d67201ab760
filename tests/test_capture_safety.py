"""Nothing captured can harm the server: hostile pages, extractor failures, redirects, slow servers, archives.

Every server here is one the test starts on the loopback range (127.0.0.1, 127.0.0.2). Loopback
is exactly what ``capture_source`` refuses without ``--allow-private``, so the tests that follow
redirects pass it, or treat 127.0.0.1 alone as "a public site" (``public_127_0_0_1``) to show that a
redirect from there to another local address (127.0.0.2: "a local service") is refused.
"""

import http.server
import ipaddress
import resource
import socket
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from kb.evidence import captures, fetching, html_sandbox
from kb.evidence.captures import CaptureError, from_url
from kb.knowledge import models as m
from tests.test_evidence import new_source

PAGE = (
    "<html><head><title>Widgets</title></head><body><article><h1>Widgets</h1>"
    "<p>Alpha is slow to start, and everyone who has used it says so.</p>"
    "<p>Beta starts at once and keeps going all day long.</p></article></body></html>"
)


def hostile_attributes(count=100_000):
    """One element with ``count`` attributes: libxml2's duplicate-attribute check is quadratic."""
    return "<html><body><div " + " ".join(f'data-a{n}="v"' for n in range(count)) + "><p>Hello.</p></div></body></html>"


def hostile_paragraphs(count=250_000):
    return "<html><body>" + "<p>w</p>" * count + "</body></html>"


@pytest.fixture
def quick_limits(monkeypatch):
    """The real limits stop these pages after 5 s of CPU; 1 s shows the same refusal sooner."""
    monkeypatch.setattr(html_sandbox, "CPU_SECONDS", 1)
    monkeypatch.setattr(html_sandbox, "WALL_SECONDS", 6)


def cpu_seconds_of_this_process():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Hostile pages and extractor errors -------------------------------------------------------------


@pytest.mark.parametrize("page", [hostile_attributes, hostile_paragraphs], ids=["attributes", "paragraphs"])
def test_a_pathological_page_is_refused_and_never_parsed_in_this_process(quick_limits, page):
    html = page()
    assert len(html.encode()) < 2 * 1024 * 1024  # under the admin's upload limit
    started, cpu = time.monotonic(), cpu_seconds_of_this_process()
    with pytest.raises(CaptureError, match=r"more than 1 s of CPU time.*too large or too complex"):
        captures.extract(html.encode(), "hostile.html", "html")
    assert time.monotonic() - started < html_sandbox.WALL_SECONDS
    assert cpu_seconds_of_this_process() - cpu < 0.5  # the parsing happened in the child


def test_a_page_that_outlasts_the_wall_clock_is_stopped(monkeypatch):
    monkeypatch.setattr(html_sandbox, "CHILD", [sys.executable, "-c", "import time; time.sleep(30)"])
    monkeypatch.setattr(html_sandbox, "WALL_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(CaptureError, match=r"took longer than 1 s, so it was stopped"):
        captures.extract(PAGE.encode(), "slow.html", "html")
    assert time.monotonic() - started < 3


def test_an_extractor_that_fails_is_an_error_for_a_person(monkeypatch):
    monkeypatch.setattr(html_sandbox, "CHILD", [sys.executable, "-c", "raise RuntimeError('lxml exploded')"])
    with pytest.raises(CaptureError, match=r"could not be extracted \(RuntimeError: lxml exploded\)"):
        captures.extract(PAGE.encode(), "page.html", "html")


def test_an_extractor_that_runs_out_of_memory_is_refused(monkeypatch):
    monkeypatch.setattr(html_sandbox, "CHILD", [sys.executable, "-c", "raise MemoryError"])
    with pytest.raises(CaptureError, match=r"needed more than 1024 MB of memory"):
        captures.extract(PAGE.encode(), "page.html", "html")


def test_the_admin_answers_a_hostile_upload_with_a_form_error(editor_client, db, quick_limits):
    upload = SimpleUploadedFile("hostile.html", hostile_attributes().encode(), content_type="text/html")
    response = editor_client.post(reverse("admin:kb_source_add"), new_source(capture_file=upload))
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["capture_file"]
    assert "too large or too complex to capture" in error
    assert not m.Source.objects.filter(slug="uploaded").exists()


def test_the_admin_answers_an_extractor_failure_with_a_form_error(editor_client, db, monkeypatch):
    monkeypatch.setattr(html_sandbox, "CHILD", [sys.executable, "-c", "import sys; sys.exit('broken parser')"])
    upload = SimpleUploadedFile("page.html", PAGE.encode(), content_type="text/html")
    response = editor_client.post(reverse("admin:kb_source_add"), new_source(capture_file=upload))
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["capture_file"]
    assert "could not be extracted (broken parser)" in error


def test_a_normal_page_is_still_extracted():
    extracted = captures.extract(PAGE.encode(), "page.html", "html")
    assert "Alpha is slow to start" in extracted.text
    assert extracted.extractor.startswith("trafilatura ")


# import_captures: plain files inside the folder only ------------------------------------------------


def test_import_captures_refuses_a_symlink_out_of_its_folder(db, tmp_path):
    m.Source.objects.create(slug="linked", title="Linked", kind="article", archive="linked")
    archive = tmp_path / "archive"
    archive.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("Not for the site.", encoding="utf-8")
    (archive / "linked.txt").symlink_to(secret)
    with pytest.raises(CommandError, match=r"linked.txt is a symbolic link"):
        call_command("import_captures", str(archive))
    assert not m.Capture.objects.exists()


def test_import_captures_refuses_a_symlinked_folder_entry_even_inside(db, tmp_path):
    m.Source.objects.create(slug="linked", title="Linked", kind="article", archive="linked")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "real.txt").write_text("Text.", encoding="utf-8")
    (archive / "linked.txt").symlink_to(archive / "real.txt")
    with pytest.raises(CommandError, match="symbolic link"):
        call_command("import_captures", str(archive))


# Safe fetching ----------------------------------------------------------------------------------


class Site(http.server.BaseHTTPRequestHandler):
    """Routes: path -> (status, headers, body bytes, seconds between bytes or 0)."""

    routes = {}
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status, headers, body, trickle = self.routes.get(self.path, (404, {}, b"not here", 0))
        self.server.hits.append(self.path)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), "Connection": "close", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if not trickle:
                self.wfile.write(body)
                return
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@contextmanager
def site(routes, host="127.0.0.1"):
    handler = type("Routes", (Site,), {"routes": routes})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def html(body, charset="utf-8", content_type="text/html"):
    return (200, {"Content-Type": f"{content_type}; charset={charset}" if charset else content_type}, body, 0)


def redirect(location, status=302):
    return (status, {"Location": location}, b"", 0)


@pytest.fixture
def public_127_0_0_1(monkeypatch):
    """Treat 127.0.0.1 (and only it) as a public site, so a redirect from it to another local address shows."""
    real = fetching.is_public
    monkeypatch.setattr(fetching, "is_public", lambda address: address == "127.0.0.1" or real(address))


def test_loopback_is_refused_without_allow_private_and_fetched_with_it():
    with site({"/page.html": html(PAGE.encode())}) as (server, base):
        with pytest.raises(CaptureError, match=r"resolves to 127.0.0.1.*--allow-private"):
            from_url(f"{base}/page.html")
        assert server.hits == []  # refused before connecting
        assert "Alpha is slow to start" in from_url(f"{base}/page.html", allow_private=True).text


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "224.0.0.1", "::1", "fe80::1",
                "fc00::1", "0.0.0.0", "::ffff:127.0.0.1", "100.64.0.1", "240.0.0.1"],
)  # fmt: skip
def test_addresses_of_this_machine_and_private_networks_are_not_public(address):
    assert not fetching.is_public(address)


def test_public_addresses_are_public():
    assert fetching.is_public("93.184.215.14") and fetching.is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert ipaddress.ip_address("8.8.8.8").is_global


def test_a_redirect_to_a_local_service_is_refused(public_127_0_0_1):
    secret = {"/secret": html(b"the local service's secret", content_type="text/plain")}
    with site(secret, "127.0.0.2") as (local, local_base):
        with (
            site({"/page.html": redirect(f"{local_base}/secret")}) as (_, base),
            pytest.raises(CaptureError, match=r"Refused to fetch from 127.0.0.2"),
        ):
            from_url(f"{base}/page.html")
        assert local.hits == []


def test_localhost_by_name_is_refused():
    with pytest.raises(CaptureError, match=r"Refused to fetch from localhost"):
        from_url("http://localhost:9/")


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/file.txt", "file:///etc/passwd", "gopher://127.0.0.1:70/"])
def test_a_redirect_to_another_scheme_is_refused(public_127_0_0_1, target):
    with (
        site({"/page.html": redirect(target)}) as (_, base),
        pytest.raises(CaptureError, match=r"is not an http or https address: refused"),
    ):
        from_url(f"{base}/page.html")


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, public_127_0_0_1):
    """A name that answers 127.0.0.1 to the check and 127.0.0.2 later (DNS rebinding) still reaches 127.0.0.1."""
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with site({"/page.html": html(PAGE.encode())}) as (server, _):
        port = server.server_address[1]
        assert "Alpha is slow" in from_url(f"http://rebind.test:{port}/page.html").text
        assert server.hits == ["/page.html"]


def test_the_final_url_is_the_origin_and_the_chain_is_logged(db, caplog):
    m.Source.objects.create(slug="moved", title="Moved", kind="article")
    with (
        site({"/old": redirect("/older", 301), "/older": redirect("/new", 308), "/new": html(PAGE.encode())}) as (
            _,
            base,
        ),
        caplog.at_level("INFO", logger="kb.evidence.captures"),
    ):
        call_command("capture_source", "moved", f"{base}/old", "--allow-private")
    assert m.Capture.objects.get(source__slug="moved").origin == f"{base}/new"
    [record] = [r for r in caplog.records if "redirected" in r.getMessage()]
    assert record.redirects == [f"301 {base}/old -> {base}/older", f"308 {base}/older -> {base}/new"]


def test_too_many_redirects_are_refused():
    with site({"/loop": redirect("/loop")}) as (_, base), pytest.raises(CaptureError, match=r"more than 5 redirects"):
        from_url(f"{base}/loop", allow_private=True)


def test_a_trickling_server_is_cut_off_at_the_overall_deadline():
    body = PAGE.encode()
    with site({"/slow.html": (200, {"Content-Type": "text/html"}, body, 0.2)}) as (_, base):
        started = time.monotonic()
        with pytest.raises(CaptureError, match=r"not received whole within 1 s"):
            from_url(f"{base}/slow.html", timeout=1, allow_private=True)
        assert time.monotonic() - started < 2


def test_a_body_over_the_cap_is_refused_whatever_its_length_header_says():
    body = b"<html><body><p>" + b"word " * 1000 + b"</p></body></html>"
    routes = {"/big.html": (200, {"Content-Type": "text/html", "Content-Length": str(len(body))}, body, 0)}
    with site(routes) as (_, base), pytest.raises(CaptureError, match=r"larger than 1,024 bytes"):
        from_url(f"{base}/big.html", max_bytes=1024, allow_private=True)


def test_the_declared_charset_decodes_the_page():
    latin = (
        "<html><body><article><p>Le café est servi chaud, comme toujours, à la terrasse.</p></article></body></html>"
    )
    routes = {
        "/latin.html": html(latin.encode("iso-8859-1"), charset="iso-8859-1"),
        "/meta.html": html(latin.replace("<html>", '<html><meta charset="windows-1252">').encode("cp1252"), None),
        "/plain.txt": html("Crème brûlée.".encode("iso-8859-1"), "iso-8859-1", "text/plain"),
    }
    with site(routes) as (_, base):
        assert "Le café est servi" in from_url(f"{base}/latin.html", allow_private=True).text
        assert "Le café est servi" in from_url(f"{base}/meta.html", allow_private=True).text
        assert from_url(f"{base}/plain.txt", allow_private=True).text == "Crème brûlée."


def test_only_what_cannot_be_decoded_is_refused():
    routes = {
        "/bad.html": html(b"<html><body><p>caf\xe9</p></body></html>", charset="utf-8"),
        "/unknown.html": html(b"<html><body><p>cafe</p></body></html>", charset="x-no-such-charset"),
    }
    with site(routes) as (_, base):
        with pytest.raises(CaptureError, match=r"is not valid utf-8 text"):
            from_url(f"{base}/bad.html", allow_private=True)
        with pytest.raises(CaptureError, match=r"declares the charset 'x-no-such-charset'"):
            from_url(f"{base}/unknown.html", allow_private=True)


def test_capture_source_refuses_a_local_url_without_the_flag(db):
    m.Source.objects.create(slug="local", title="Local", kind="article")
    with site({"/page.html": html(PAGE.encode())}) as (server, base):
        with pytest.raises(CommandError, match=r"--allow-private"):
            call_command("capture_source", "local", f"{base}/page.html")
        assert server.hits == []
    assert not m.Capture.objects.exists()
