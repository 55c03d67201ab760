"""Caches that cannot take the site down (kb.ops.shared_cache, kb.ops.page_cache, the preview picture).

A cache that raises on every call and a Redis on a closed port leave every public page 200, the
failure logged once; a full Redis evicts (allkeys-lru) or, under noeviction, is a miss; a value
planted in Redis that would run code when unpickled is never unpickled; 1,000 orders of the same
subjects add at most one entry; a recreated database (new epoch) never gets the old one's pages.
The Redis tests start their own redis-server on a free loopback port with a small maxmemory.
"""

import itertools
import logging
import pickle
import random
import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kb.knowledge import models as m
from kb.knowledge.synthetic import Size, generate
from kb.ops import shared_cache as shared_cache_module
from kb.ops.page_cache import _key
from kb.ops.shared_cache import BytesSerializer, SharedCache, shared_cache

pytestmark = pytest.mark.django_db


class BrokenCache(BaseCache):
    """A cache backend whose every call raises, as a dead or misconfigured store does."""

    calls = 0

    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        BrokenCache.calls += 1
        raise ConnectionError("the cache is down")

    get = set = add = delete = touch = has_key = incr = clear = get_many = set_many = delete_many = _fail


def public_urls():
    claim = m.Claim.objects.published().select_related("subject").order_by("pk").first()
    dimension = m.Dimension.objects.order_by("pk").first()
    source = m.Source.objects.order_by("pk").first()
    task = m.Task.objects.order_by("pk").first()
    return [
        "/",
        "/subjects/",
        "/subjects/alpha/",
        "/dimensions/",
        f"/dimensions/{dimension.slug}/",
        f"/claims/{claim.subject.slug}/{claim.key}/",
        "/sources/",
        f"/sources/{source.slug}/",
        "/snippets/",
        f"/snippets/{task.slug}/",
        "/search/?q=widget",
        "/feeds/claims/",
        "/feeds/subjects/alpha/",
        "/compare/",
        "/compare/alpha-vs-beta/",
        "/compare/alpha-vs-beta.json",
        "/compare/alpha-vs-beta.csv",
        "/compare/alpha-vs-beta/preview.png",
        "/compare/alpha-vs-beta/cite.bib",
        "/compare/alpha-vs-beta/cite.json",
        "/sitemap.xml",
        "/robots.txt",
    ]


def assert_every_public_page_answers(client, twice=True):
    for url in public_urls():
        for _ in range(2 if twice else 1):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)


def cache_warnings(caplog):
    return [record for record in caplog.records if record.name == "kb.cache"]


# A cache that fails --------------------------------------------------------------------------------


@override_settings(CACHES={"default": {"BACKEND": f"{__name__}.BrokenCache"}}, KB_CACHE_RETRY_SECONDS=0)
def test_a_cache_that_raises_on_every_call_leaves_every_page_200(client, sample_kb, caplog):
    BrokenCache.calls = 0
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        assert_every_public_page_answers(client)
    assert BrokenCache.calls > 10  # asked every time (no retry delay here), failed every time
    assert len(cache_warnings(caplog)) == 1  # logged once for the whole outage
    assert "ConnectionError" in cache_warnings(caplog)[0].getMessage()


@override_settings(CACHES={"default": {"BACKEND": f"{__name__}.BrokenCache"}}, KB_CACHE_RETRY_SECONDS=60)
def test_a_failing_cache_is_left_alone_until_the_retry(client, sample_kb):
    BrokenCache.calls = 0
    client.get("/subjects/alpha/")
    client.get("/subjects/beta/")
    client.get("/subjects/alpha/")
    assert BrokenCache.calls == 1


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_caches(port, password=None):
    auth = f":{password}@" if password else ""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{auth}127.0.0.1:{port}/0",
            "OPTIONS": {
                "serializer": "kb.ops.shared_cache.BytesSerializer",
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
            },
        }
    }


def test_a_redis_on_a_closed_port_leaves_every_page_200(client, sample_kb, settings, caplog):
    settings.CACHES = redis_caches(free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        assert_every_public_page_answers(client)
    assert len(cache_warnings(caplog)) == 1


# A real Redis, started here ------------------------------------------------------------------------


@pytest.fixture
def redis_server():
    """Start a redis-server of this test on a free loopback port: (port, start(policy, maxmemory))."""
    binary = shutil.which("redis-server")
    assert binary, "these tests need redis-server (apt-get install redis-server)"
    processes = []

    def start(policy="allkeys-lru", maxmemory="2mb"):
        port = free_port()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(
            [binary, "--port", str(port), *options, "--maxmemory", maxmemory, "--maxmemory-policy", policy],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return port, client
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_a_full_redis_evicts_instead_of_failing(client, sample_kb, settings, redis_server, caplog):
    port, raw = redis_server("allkeys-lru", "2mb")
    settings.CACHES = redis_caches(port)
    value = random.randbytes(100_000)
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        assert all(shared_cache.set(f"test:{n}", value, 3600) for n in range(100))  # 10 MB into 2 MB
        assert raw.dbsize() < 100  # the oldest went
        assert shared_cache.get("test:99") == value
        assert_every_public_page_answers(client)
        assert client.get("/subjects/alpha/")["X-Page-Cache"] == "hit"
    assert cache_warnings(caplog) == []


def test_a_full_redis_that_refuses_writes_is_a_miss(client, sample_kb, settings, redis_server, caplog):
    port, _raw = redis_server("noeviction", "2mb")
    settings.CACHES = redis_caches(port)
    settings.KB_CACHE_RETRY_SECONDS = 0
    value = random.randbytes(100_000)
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        stored = [shared_cache.set(f"test:{n}", value, 3600) for n in range(40)]
        assert stored[0] and not stored[-1]  # OutOfMemoryError: not stored, and no exception
        assert_every_public_page_answers(client)
    failures = [record.getMessage() for record in cache_warnings(caplog) if "failed" in record.getMessage()]
    assert "OutOfMemoryError" in failures[0]
    # Logged once per outage (a small page may still fit between two, ending one), not once per refused write.
    assert len(failures) < stored.count(False)
    warnings_per_outage(caplog)


class Exploit:
    """Unpickling this writes a file: proof that a planted value ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_planted_pickle_is_never_unpickled(client, sample_kb, settings, redis_server, tmp_path, caplog):
    port, raw = redis_server()
    settings.CACHES = redis_caches(port)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Exploit(marker))
    assert client.get("/subjects/alpha/")["X-Page-Cache"] == "miss"
    (page_key,) = [key.decode() for key in raw.keys("*kb:page:*")]
    # Overwrite every key the site uses, the page's own and the picture's, with the payload.
    client.get("/compare/alpha-vs-beta/preview.png")
    with caplog.at_level(logging.WARNING, logger="kb.cache"):
        for key in raw.keys("*"):
            raw.set(key, payload)
        response = client.get("/subjects/alpha/")
        picture = client.get("/compare/alpha-vs-beta/preview.png")
    assert response.status_code == picture.status_code == 200
    assert response["X-Page-Cache"] == "miss"  # refused, built again
    assert picture.content.startswith(b"\x89PNG")
    assert not marker.exists()
    assert any("refused" in record.getMessage() for record in cache_warnings(caplog))
    assert page_key.endswith(_key(m.ContentVersion.objects.state(), response.wsgi_request).split(":", 1)[1])


def test_a_value_moved_from_another_key_is_refused(settings, redis_server):
    port, raw = redis_server()
    settings.CACHES = redis_caches(port)
    shared_cache.set("kb:page:a", b"page a", 60)
    raw.set(":1:kb:page:b", raw.get(":1:kb:page:a"))
    assert shared_cache.get("kb:page:a") == b"page a"
    assert shared_cache.get("kb:page:b") is None


def test_the_serializer_stores_only_bytes_and_never_unpickles(tmp_path):
    serializer = BytesSerializer()
    marker = tmp_path / "pwned"
    assert serializer.loads(pickle.dumps(Exploit(marker))) == pickle.dumps(Exploit(marker))
    assert not marker.exists()
    with pytest.raises(TypeError):
        serializer.dumps({"a": "dict"})
    assert serializer.dumps(b"bytes") == b"bytes"
    assert serializer.dumps(3) == 3


# What one visitor can make the cache hold ---------------------------------------------------------------


def test_a_thousand_orders_of_the_same_subjects_add_at_most_one_entry(client, db):
    generate(Size(subjects=8, dimensions=2, seed=3))
    slugs = [f"synthetic-{n}" for n in range(1, 9)]
    client.get("/")
    store = caches["default"]._cache
    before = set(store)
    rng = random.Random(19)
    seen = set()
    for number in range(1000):
        order = rng.sample(slugs, 8)
        seen.add(tuple(order))
        spec = "-vs-".join(order)
        assert client.get(f"/compare/{spec}/preview.png").status_code == 200
        if number % 5 == 0:  # the page itself (a fifth of them: each takes a while), and its exports
            assert client.get(f"/compare/{spec}/").status_code == 200
            assert client.get(f"/compare/{spec}.csv").status_code == 200
    added = set(store) - before
    assert len(seen) > 950  # nearly all different orders
    assert len(added) == 1, added  # the picture of the set of eight, drawn once


def test_the_picture_is_the_same_whatever_the_order(client, sample_kb):
    one = client.get("/compare/alpha-vs-beta/preview.png").content
    assert client.get("/compare/beta-vs-alpha/preview.png").content == one


# Epochs ------------------------------------------------------------------------------------------------


def test_a_recreated_database_never_gets_the_old_databases_pages(client, sample_kb):
    old = client.get("/subjects/alpha/")
    assert client.get("/subjects/alpha/")["X-Page-Cache"] == "hit"
    state = m.ContentVersion.objects.state()
    # A new database: another epoch, the same generation number, different content (no signal fires).
    m.ContentVersion.objects.all().delete()
    m.ContentVersion.objects.create(pk=1, generation=state.generation, changed=state.changed)
    assert m.ContentVersion.objects.state().epoch != state.epoch
    m.Subject.objects.filter(slug="alpha").update(name="Alpha of the new database")
    new = client.get("/subjects/alpha/")
    assert new["X-Page-Cache"] == "miss"
    assert "Alpha of the new database" in new.content.decode()
    assert new.content != old.content


# The cache's own states, exhaustively and at random --------------------------------------------------------------


class FlakyBackend:
    """An in-memory backend that can be made to fail; stands in for Redis in the state checks."""

    def __init__(self):
        self.data = {}
        self.down = False

    def get(self, key):
        if self.down:
            raise ConnectionError("down")
        return self.data.get(key)

    def set(self, key, value, timeout):
        if self.down:
            raise ConnectionError("down")
        self.data[key] = value


class Model:
    """What the cache should do: a value read back is one stored while the store was up."""

    OPERATIONS = ("fail", "recover", "wait", "set", "get", "plant")

    def __init__(self, monkeypatch_clock):
        self.backend = FlakyBackend()
        self.cache = SharedCache()
        type(self.cache).backend = property(lambda cache: self.backend)
        self.clock = monkeypatch_clock
        self.stored = {}
        self.outages_logged = 0
        self.outages = 0

    def step(self, operation, key="k", value=b"v"):
        if operation == "fail":
            if not self.backend.down:
                self.backend.down = True
        elif operation == "recover":
            self.backend.down = False
        elif operation == "wait":
            self.clock[0] += 10  # past KB_CACHE_RETRY_SECONDS
        elif operation == "set":
            if self.cache.set(key, value, 60):
                self.stored[key] = value
        elif operation == "get":
            got = self.cache.get(key)
            assert got is None or got == self.stored.get(key)
            if not self.backend.down and self.cache.down_until is None:
                assert got == self.stored.get(key)
        elif operation == "plant":
            self.backend.data[":1:" + key] = self.backend.data[key] = pickle.dumps(Exploit("/nonexistent/x"))
            self.stored.pop(key, None)


@pytest.fixture
def fake_clock(monkeypatch, settings):
    settings.KB_CACHE_RETRY_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(shared_cache_module.time, "monotonic", lambda: clock[0])
    return clock


def warnings_per_outage(caplog):
    messages = [record.getMessage() for record in cache_warnings(caplog) if "refused" not in record.getMessage()]
    # Alternating "failed" and "answers again": each outage logged once, each return once.
    for first, second in itertools.pairwise(messages):
        assert ("failed" in first) != ("failed" in second), messages


def test_every_sequence_of_five_cache_events(fake_clock, caplog, monkeypatch):
    """Exhaustive: 6^5 sequences of failures, recoveries, waits, writes, reads and planted values."""
    original = SharedCache.backend
    try:
        with caplog.at_level(logging.WARNING, logger="kb.cache"):
            for sequence in itertools.product(Model.OPERATIONS, repeat=5):
                caplog.clear()
                model = Model(fake_clock)
                for operation in sequence:
                    model.step(operation)
                warnings_per_outage(caplog)
    finally:
        SharedCache.backend = original


class SiteUnderCacheTrouble(RuleBasedStateMachine):
    """Random sequences of cache outages, recoveries, content edits, recreated databases and page views:
    every view is 200 and shows exactly what the database holds now."""

    def __init__(self):
        super().__init__()
        self.client = TEST_CLIENT[0]
        BrokenSwitch.down = False
        self.name = "Alpha"

    @rule()
    def cache_goes_down(self):
        BrokenSwitch.down = True

    @rule()
    def cache_comes_back(self):
        BrokenSwitch.down = False
        if shared_cache.down_until is not None:
            shared_cache.down_until = 0  # the retry time has passed

    @rule(name=st.sampled_from(["Alpha", "Alpha two", "Alpha three"]))
    def edit(self, name):
        subject = m.Subject.objects.get(slug="alpha")
        subject.name = name
        subject.save()  # bumps the generation
        self.name = name

    @rule(name=st.sampled_from(["Alpha", "Alpha two"]))
    def recreate_database(self, name):
        state = m.ContentVersion.objects.state()
        m.ContentVersion.objects.all().delete()
        m.ContentVersion.objects.create(pk=1, generation=state.generation, changed=state.changed)
        m.Subject.objects.filter(slug="alpha").update(name=name)
        self.name = name

    @rule(url=st.sampled_from(["/subjects/alpha/", "/subjects/", "/"]))
    def view(self, url):
        response = self.client.get(url)
        assert response.status_code == 200
        assert f">{self.name}<" in response.content.decode() or self.name in response.content.decode()

    @invariant()
    def subject_page_is_current(self):
        response = self.client.get("/subjects/alpha/")
        assert response.status_code == 200
        assert f"<h1>{self.name}" in response.content.decode() or self.name in response.content.decode()


class BrokenSwitch(BaseCache):
    """A local-memory cache that raises while ``down``."""

    down = False
    data = {}

    def __init__(self, location, params):
        super().__init__(params)

    def get(self, key, default=None, version=None):
        if BrokenSwitch.down:
            raise ConnectionError("down")
        return BrokenSwitch.data.get(key, default)

    def set(self, key, value, timeout=None, version=None):
        if BrokenSwitch.down:
            raise ConnectionError("down")
        BrokenSwitch.data[key] = value

    def clear(self):
        BrokenSwitch.data.clear()


TEST_CLIENT = []


@override_settings(CACHES={"default": {"BACKEND": f"{__name__}.BrokenSwitch"}})
def test_site_under_cache_trouble(client, sample_kb):
    TEST_CLIENT[:] = [client]
    BrokenSwitch.data.clear()
    SiteUnderCacheTrouble.TestCase.settings = hypothesis_settings(
        max_examples=15, stateful_step_count=10, deadline=None, suppress_health_check=list(HealthCheck)
    )
    SiteUnderCacheTrouble.TestCase().runTest()
