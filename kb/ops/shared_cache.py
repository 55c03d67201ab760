"""The site's one cache (whole pages, link-preview pictures): it can slow a page down, never take it down.

- **A failing cache is a miss.** Every call is guarded: an unreachable Redis, a timeout, or
  ``OutOfMemoryError`` from a Redis full under ``noeviction`` makes the page be built from the
  database. The failure is logged once ("kb.cache"), the cache is left alone for
  ``KB_CACHE_RETRY_SECONDS`` (a dead server costs no connect per request), and its return is
  logged once too.
- **Nothing read is unpickled.** Values are bytes. Redis is read through ``BytesSerializer``, which
  hands back the stored bytes as they are (Django's default serializer would unpickle them), and every
  value carries an HMAC-SHA256 tag over its key and bytes, keyed with the secret key: a value
  planted by whoever can write to Redis, or moved from another key, is refused (a miss, logged).
  A cache in the process's own memory (LocMemCache, the default without REDIS_URL) is no shared
  store: nobody else writes to it, and its values go untagged (a hit costs no pass over the page).
- **Bounded.** A value over ``KB_CACHE_MAX_VALUE_BYTES`` is not stored; the number of entries is
  bounded by the backend (``MAX_ENTRIES`` in process memory; Redis: ``maxmemory`` with
  ``allkeys-lru``, see the README), which evicts the least recently used rather than refuse.
"""

import hashlib
import hmac
import logging
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger("kb.cache")

TAG_BYTES = 32


class BytesSerializer:
    """For Django's RedisCache: bytes stored and read as they are; nothing else is ever stored or unpickled."""

    def dumps(self, obj):
        if type(obj) is int:  # incr()/decr() keep integers as Redis integers, as Django's own serializer does
            return obj
        if not isinstance(obj, bytes):
            raise TypeError(f"the shared cache stores bytes only, not {type(obj).__name__}")
        return obj

    def loads(self, data):
        return bytes(data)


@lru_cache(maxsize=4)
def _mac_key(secret_key):
    return hashlib.sha256(b"kb.ops.shared_cache\0" + secret_key.encode()).digest()


def _tag(key, payload):
    """HMAC-SHA256 of ``payload`` stored under ``key`` (so a value cannot be moved to another key either)."""
    # One C call over the bytes (SHA-256 has CPU instructions where BLAKE2 has none): a cache hit stays cheap.
    return hmac.digest(_mac_key(settings.SECRET_KEY), key.encode() + b"\0" + payload, "sha256")


class SharedCache:
    """Bytes in a Django cache under tagged values; every failure is a miss."""

    def __init__(self, alias_setting="KB_PAGE_CACHE"):
        self.alias_setting = alias_setting
        self.down_until = None  # monotonic time until which the cache is not asked, while it fails
        self.failing = None  # the operation that failed ("get" or "set"), until it or a write succeeds

    @property
    def backend(self):
        return caches[getattr(settings, self.alias_setting)]

    def _is_shared(self, backend):
        return not isinstance(backend, LocMemCache)

    def _available(self):
        # After a failure, the next try waits KB_CACHE_RETRY_SECONDS.
        return self.down_until is None or time.monotonic() >= self.down_until

    def forget_failure(self):
        """Ask the cache again at once (tests, or an operator's shell)."""
        self.failing = self.down_until = None

    def _failed(self, operation, error):
        if self.failing is None:
            logger.warning(
                "cache %s failed (%s: %s): pages are built from the database; next try in %s s",
                operation,
                type(error).__name__,
                " ".join(str(error).split())[:200],
                settings.KB_CACHE_RETRY_SECONDS,
            )
        self.failing = operation
        self.down_until = time.monotonic() + settings.KB_CACHE_RETRY_SECONDS

    def _succeeded(self, operation):
        # A Redis full under noeviction still answers reads: only a write that works again ends its outage.
        if self.failing is not None and operation in (self.failing, "set"):
            self.failing = self.down_until = None
            logger.warning("cache answers again")

    def get(self, key):
        """The bytes stored under ``key``, or None (absent, refused, or the cache failing)."""
        if not self._available():
            return None
        try:
            backend = self.backend
            value = backend.get(key)
        except Exception as error:  # any backend, any failure: a miss
            self._failed("get", error)
            return None
        self._succeeded("get")
        if value is None:
            return None
        if not self._is_shared(backend):
            return value
        if not isinstance(value, bytes) or len(value) < TAG_BYTES:
            logger.warning("cache value under %s refused: not one of ours", key)
            return None
        tag, payload = value[:TAG_BYTES], value[TAG_BYTES:]
        if not hmac.compare_digest(tag, _tag(key, payload)):
            logger.warning("cache value under %s refused: its tag does not match", key)
            return None
        return payload

    def set(self, key, payload, timeout):
        """Store ``payload`` (bytes) under ``key``; False when not stored (too big, or the cache failing)."""
        if len(payload) > settings.KB_CACHE_MAX_VALUE_BYTES or not self._available():
            return False
        try:
            backend = self.backend
            backend.set(key, _tag(key, payload) + payload if self._is_shared(backend) else payload, timeout)
        except Exception as error:
            self._failed("set", error)
            return False
        self._succeeded("set")
        return True


shared_cache = SharedCache()
