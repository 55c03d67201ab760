# The two commands a newcomer runs: `make run` and `make test`. Both are safe to run again.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SOURCES ?= ../shared/sources
HOST ?= 127.0.0.1:8000

.PHONY: run serve test install install-test lint format migrate load collectstatic chromium verify clean captures axe replica-test editor export
# h10: the folder of captured source texts, when there is one (KB_SOURCE_ARCHIVE, else ../shared/sources if present).
ARCHIVE := $(or $(KB_SOURCE_ARCHIVE),$(wildcard $(SOURCES)))

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt tests/requirements.txt | $(BIN)/activate
	$(PY) -m pip install --quiet -r tests/requirements.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput

# h11: the load never keeps the site from starting; only a broken content file stops `make run` (see load_for_startup).
load: migrate
	DJANGO_DEBUG=1 $(PY) manage.py load_for_startup content/

collectstatic: install
	DJANGO_DEBUG=1 $(PY) manage.py collectstatic --noinput --verbosity 0

# h14b: absolute URLs (canonical, feeds, sitemap) are built on KB_SITE_URL, and Host ports are checked against it.
SITE_URL = KB_SITE_URL="$${KB_SITE_URL:-http://$(HOST)}"

run: load captures collectstatic  # h10: + captures
	DJANGO_DEBUG=1 $(SITE_URL) $(PY) manage.py runserver $(HOST)

# h21: the editor's two commands (README, "Editing in the admin"), on the database `make run` serves, with its
# settings. Any other command runs the same way: DJANGO_DEBUG=1 .venv/bin/python manage.py <command>.
editor: migrate
	@test -n "$(NAME)" || { echo "Name the account: make editor NAME=alice" >&2; exit 2; }
	DJANGO_DEBUG=1 $(PY) manage.py create_editor "$(NAME)"

export: migrate
	DJANGO_DEBUG=1 $(PY) manage.py export_content content/

# The production stack on this machine: debug off, waitress (kb.ops.server), whitenoise, the page cache.
# Plain HTTP on localhost needs the explicit opt-out DJANGO_INSECURE_HTTP=1 (production redirects to HTTPS).
PROD_ENV = DJANGO_DEBUG=0 DJANGO_INSECURE_HTTP=1 DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat .cache/secret-key)}"

.cache/secret-key:
	mkdir -p .cache
	python3 -c "import secrets; print(secrets.token_urlsafe(64))" > $@

serve: install .cache/secret-key
	$(PROD_ENV) $(PY) manage.py migrate --noinput
	$(PROD_ENV) $(PY) manage.py load_for_startup content/ --keep-serving  # h11: serves the last good database
	$(PROD_ENV) $(PY) manage.py import_captures content/captures $(ARCHIVE)  # h10: captures (the archive's too, when there is one)
	$(PROD_ENV) $(PY) manage.py collectstatic --noinput --verbosity 0
	$(PROD_ENV) $(SITE_URL) KB_SERVER_LISTEN=$(HOST) $(PY) -m kb.ops.server  # gunicorn processes running waitress: whole requests before a thread

# Debian's Chromium for the browser tests (Playwright's own browser download is not reachable).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's Chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# axe-core for the accessibility browser test (tests/test_browser_axe.py): into the test run only, never served.
AXE_VERSION := 4.14.1
AXE := .cache/axe/node_modules/axe-core/axe.min.js

$(AXE):
	@if ! command -v npm >/dev/null; then \
		echo "Installing Debian's npm for axe-core"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; \
	fi
	npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@$(AXE_VERSION)

axe: $(AXE)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# h10 begin: captures and verification. With an archive, its captures are stored first and every excerpt
# must be verified; on a bare clone excerpts are reported unverified (no capture) and the check passes.
# The captures that travel with the content (content/captures) come first, on any clone; then the archive's.
captures: load
	DJANGO_DEBUG=1 $(PY) manage.py import_captures content/captures $(ARCHIVE)
	$(if $(ARCHIVE),,@echo "No source archive ($(SOURCES) or KB_SOURCE_ARCHIVE): only the captures in content/captures are here; the other excerpts show as captured elsewhere.")

verify: install-test captures
	DJANGO_DEBUG=1 $(PY) manage.py verify_content $(if $(ARCHIVE),--require-verified)
	DJANGO_DEBUG=1 $(PY) manage.py verify_snippets
# h10 end

test: install-test chromium axe lint collectstatic verify
	$(BIN)/pytest -m "not browser"
	$(BIN)/pytest -m browser -p no:cacheprovider

# h14a: the replica suite on a PostgreSQL primary and its streaming hot standby, both made for the run and
# removed after it (scripts/pg_replica_pair.sh; as root, the servers run as the postgres system user).
replica-test: install-test collectstatic
	scripts/pg_replica_pair.sh $(BIN)/pytest tests/replica --ds=tests.replica.settings -p no:cacheprovider

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache .ruff_cache
