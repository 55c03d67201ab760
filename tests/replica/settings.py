"""Settings of the replica suite (tests/replica): a real streaming hot standby and the router.

`make replica-test` runs it inside scripts/pg_replica_pair.sh, which makes a PostgreSQL primary
(DATABASE_URL) and its standby (DATABASE_REPLICA_URL). The test database pytest-django creates on
the primary (test_<name>) streams to the standby with the rest of the cluster, so the replica alias
connects to that same name on the standby (TEST NAME). It is never created, flushed or mirrored:
tests/replica/conftest.py sets up the primary's test database only.
"""

from django.core.exceptions import ImproperlyConfigured

from tests.settings import *  # noqa: F403

if SITE_REPLICA is None or DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":  # noqa: F405
    raise ImproperlyConfigured(
        "The replica suite needs a PostgreSQL primary (DATABASE_URL) and its streaming standby "
        "(DATABASE_REPLICA_URL): run it with `make replica-test`."
    )
if (SITE_REPLICA["HOST"], SITE_REPLICA["PORT"]) == (DATABASES["default"]["HOST"], DATABASES["default"]["PORT"]):  # noqa: F405
    raise ImproperlyConfigured("DATABASE_REPLICA_URL names the primary's server: the replica suite needs a standby.")

DATABASES["replica"] = {  # noqa: F405
    **SITE_REPLICA,  # noqa: F405
    "TEST": {"NAME": DATABASES["default"].get("TEST", {}).get("NAME") or f"test_{DATABASES['default']['NAME']}"},  # noqa: F405
}
DATABASE_ROUTERS = ["kb.ops.db_router.PrimaryReplicaRouter"]
