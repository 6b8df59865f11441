# Two entry points for a fresh machine: `make demo` and `make test`. Everything else is in README.md.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test install install-test system-deps lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

# The staff SSO test runs a real OpenID Connect provider (oidc-provider, Node); without npm that
# one test skips and says why.
install-test: $(BIN)/python system-deps
	$(BIN)/pip install --quiet ".[test]"
	@if command -v npm >/dev/null; then \
	  (cd tests/ops/oidc && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "npm not found: the SSO test (tests/ops/test_sso.py) will skip"; fi

# Debian packages the tests drive: the browser (never downloaded by Playwright), the PDF
# rasteriser, the font the posters embed, nginx (with openssl for a test certificate) that runs
# deploy/nginx/tipline.conf in front of gunicorn, and the sqlite3 shell (the audit log is tampered
# with in it, as an attacker would), and prometheus for promtool (the example alert rules in
# deploy/prometheus are checked and unit-tested by it), and pg_dump/pg_restore for `tipline backup`
# on PostgreSQL. Installed only when missing, only as root.
system-deps:
	@missing=""; \
	for pair in chromium:/usr/bin/chromium poppler-utils:/usr/bin/pdftoppm \
	            fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
	            nginx:/usr/sbin/nginx openssl:/usr/bin/openssl sqlite3:/usr/bin/sqlite3 \
	            prometheus:/usr/bin/promtool postgresql-client:/usr/bin/pg_dump; do \
	  pkg=$${pair%%:*}; path=$${pair#*:}; [ -e "$$path" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (Debian packages)"; exit 1; fi; \
	fi

demo: install
	$(BIN)/tipline demo

test: install-test
	$(BIN)/pytest -q

lint: install-test
	$(BIN)/ruff check tipline tests bench
	$(BIN)/ruff format --check tipline tests bench
	$(BIN)/mypy
