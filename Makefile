# colorproj: two commands.
#   make start   set up (.venv, install, migrate, demo data) and run the studio (embedded mode)
#   make test    set up, check the import contracts, run the test suite in both modes (embedded, then distributed)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The distributed test run uses these local services (see .ci/run, which starts them).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/colorproj
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: start test install browser test-embedded test-distributed worker

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Served as in production: DEBUG off (a 404 is a plain page, not the list of URLs), static files
# collected once and served compressed by WhiteNoise. DJANGO_DEBUG=1 make start debugs.
start: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo --url http://$(HOST):$(PORT)/
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops)"
	DJANGO_DEBUG=$(or $(DJANGO_DEBUG),0) $(PY) -m colorproj.server -b $(HOST) -p $(PORT) colorproj.asgi:application

# Browser tests drive Debian's chromium.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "Installing chromium and chromium-driver (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

# Any non-zero pytest status fails the target, including 5 ("no tests collected"), which would
# mean the suite silently ran nothing. lint-imports checks the import contracts in pyproject.toml
# (the engines apart from Django, stages only through their actions, no circles).
test: install browser
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory test-embedded
	$(MAKE) --no-print-directory test-distributed

test-embedded:
	env -u DATABASE_URL -u REDIS_URL -u COLORPROJ_JOBS $(PY) -m pytest -m "not distributed" $(PYTEST_ARGS)

# Everything that depends on the mode, against PostgreSQL, Redis and a real Celery worker;
# per-run Redis key prefix and test database so concurrent runs do not meet.
test-distributed:
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	COLORPROJ_REDIS_PREFIX=colorproj-test-$$$$ COLORPROJ_TEST_DB=test_colorproj_$$$$ \
	$(PY) -m pytest --ignore=tests/inference $(PYTEST_ARGS)

# A worker for the distributed mode (set DATABASE_URL, REDIS_URL, COLORPROJ_MEDIA_ROOT first).
worker: install
	$(VENV)/bin/celery -A colorproj worker -Q $${QUEUES:-preview,batch} -l info
