# NextOps backend. Two commands on a fresh machine with Python 3.11+:
#   make run    serve the demo (SQLite, local storage, demo data) with gunicorn
#   make test   ruff + the whole pytest suite (PostgreSQL too when TEST_DATABASE_URL is set)

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BACKEND := $(CURDIR)/backend

.PHONY: run test test-fast translations messages test-faults lint bench bench-exports bench-background bench-search bench-monitoring bench-metrics bench-uploads bench-upload-sink bench-documents bench-intake bench-load bench-scale bench-report screenshots railway-check clean

$(VENV)/.runtime: backend/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "NextOps needs Python 3.11+; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r backend/requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime backend/requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r backend/requirements-dev.txt
	@touch $@

# The web pages' catalogs: messages.po is committed, messages.mo compiled here (and by backend/railpack.json's
# build step), never committed. `make messages` re-extracts the English ids into the Spanish catalog.
CATALOGS := $(wildcard backend/app/translations/*/LC_MESSAGES/messages.po)
translations: $(VENV)/.runtime $(CATALOGS:.po=.mo)

%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(VENV)/.runtime
	cd $(BACKEND) && $(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -o /tmp/nextops-messages.pot . && \
		$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i /tmp/nextops-messages.pot -d app/translations

run: $(VENV)/.runtime translations
	cd $(BACKEND) && $(BIN)/flask db upgrade
	cd $(BACKEND) && $(BIN)/flask seed --if-empty
	@cd $(BACKEND) && token=$$($(BIN)/flask tokens create --name demo --role admin --replace | tail -n 1) && \
		echo "" && echo "NextOps: open http://$(HOST):$(PORT)/ in a browser (health check: /health)" && \
		echo "Demo admin token (new on every 'make run'): $$token" && \
		echo "Try: curl -H 'Authorization: Bearer $$token' 'http://$(HOST):$(PORT)/api/invoices?limit=5'" && echo ""
	@cd $(BACKEND) && $(BIN)/flask users demo-admin > instance/.demo-admin && \
		echo "Demo admin (new password on every 'make run'): $$(sed -n 1p instance/.demo-admin)  password: $$(sed -n 2p instance/.demo-admin)" && \
		echo "Sign in: http://$(HOST):$(PORT)/login" && echo "" && rm -f instance/.demo-admin
	cd $(BACKEND) && GUNICORN_BIND=$(HOST):$(PORT) exec $(BIN)/gunicorn wsgi:app

lint: $(VENV)/.dev
	$(BIN)/ruff check .

# pytest exits 5 when it collects nothing: that is a failure here, never a green run.
PYTEST_ARGS ?=
test: lint translations
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

# The edit loop: everything except the tests that start a real gunicorn (marker `gunicorn`).
test-fast:
	@$(MAKE) --no-print-directory test PYTEST_ARGS='-m "not gunicorn"'

# Only the slow fault tests (marker `faults`): database restarts on a private PostgreSQL cluster the tests
# start with pg_ctl on a free port (skipped when the server binaries are absent), SIGKILL/SIGTERM mid-request.
# `make test` runs them too.
test-faults:
	@$(MAKE) --no-print-directory test PYTEST_ARGS='-m faults'

# Every benchmark, then bench/RESULTS.md. A failing benchmark does not stop the others; it is named in
# RESULTS.md and makes `make bench` exit non-zero at the end.
BENCHES := bench-exports bench-background bench-search bench-uploads bench-upload-sink bench-documents bench-intake bench-monitoring bench-metrics bench-scale bench-load
BENCH_LOAD_ARGS ?=

bench: $(VENV)/.dev
	@failed=""; for target in $(BENCHES); do \
		$(MAKE) --no-print-directory $$target || failed="$$failed $${target#bench-}"; \
	done; \
	BENCH_FAILED="$$failed" $(BIN)/python bench/report.py || failed="$$failed report"; \
	if [ -n "$$failed" ]; then echo "make bench: failed:$$failed" >&2; exit 1; fi

# The servers it measures run from a venv with backend/requirements.txt only (what Railway installs): the dev
# venv's extra packages (matplotlib's numpy, Pillow, fontTools) are imported by openpyxl and pypdf when present.
RUNTIME_VENV := $(CURDIR)/bench/out/runtime-venv
$(RUNTIME_VENV)/.runtime: backend/requirements.txt
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet -r backend/requirements.txt
	@touch $@

bench-monitoring: $(VENV)/.dev $(RUNTIME_VENV)/.runtime
	$(BIN)/python bench/monitoring.py --server-python $(RUNTIME_VENV)/bin/python

# Uploads vs a bare gunicorn sink (curl, alternating runs) and worker growth on a 1 GB upload, local and S3 (moto).
BENCH_SINK_ARGS ?=
bench-upload-sink: $(VENV)/.dev
	$(BIN)/python bench/upload_sink.py $(BENCH_SINK_ARGS)

# The per-request cost of /metrics (on vs off, same run) and a scrape after many recycled workers.
BENCH_METRICS_ARGS ?=
bench-metrics: $(VENV)/.dev
	$(BIN)/python bench/metrics.py $(BENCH_METRICS_ARGS)

# Two gunicorn instances sharing PostgreSQL, Redis (db 6, TEST_REDIS_URL) and moto's S3: the multi-instance
# proof as PASS/MISS rows (tests/helpers/instances.py). Smaller: make bench-scale BENCH_SCALE_ARGS='--files 10'
BENCH_SCALE_ARGS ?=
bench-scale: $(VENV)/.dev
	$(BIN)/python bench/scale.py $(BENCH_SCALE_ARGS)

# Uploads and the OT import through a real one-worker gunicorn vs the naive upload and sha256sum+cp.
BENCH_UPLOADS_ARGS ?=
bench-uploads: $(VENV)/.dev
	$(BIN)/python bench/uploads.py $(BENCH_UPLOADS_ARGS)

# A ~1 GB documents ZIP (200 invoices x 5 MB) through a one-worker gunicorn vs cat/sha256sum of the same files.
BENCH_DOCUMENTS_ARGS ?=
bench-documents: $(VENV)/.dev
	$(BIN)/python bench/documents.py $(BENCH_DOCUMENTS_ARGS)

# 200 generated PDFs and 200 DTE JSONs through POST /api/invoices/intake on a one-worker gunicorn vs
# plain POST /api/uploads of the same files. Smaller: make bench-intake BENCH_INTAKE_ARGS='--count 50'
BENCH_INTAKE_ARGS ?=
bench-intake: $(VENV)/.dev
	$(BIN)/python bench/intake.py $(BENCH_INTAKE_ARGS)

bench-load: $(VENV)/.dev
	$(BIN)/python bench/load.py $(BENCH_LOAD_ARGS)

# Streamed exports vs openpyxl/csv/COPY baselines at 10k, 100k, 1M invoices (PostgreSQL schemas
# bench_exports_<n>, seeded once). Smaller run: make bench-exports BENCH_EXPORTS_ARGS="--sizes 10000,100000"
BENCH_EXPORTS_ARGS ?=
bench-exports: $(VENV)/.dev
	$(BIN)/python bench/exports.py $(BENCH_EXPORTS_ARGS)

# List filters and q= through gunicorn at 100k and 1M invoices (schemas bench_search_<n>, seeded once: ~4 min at 1M).
# Smaller run: make bench-search BENCH_SEARCH_ARGS="--sizes 100000"
BENCH_SEARCH_ARGS ?=
bench-search: $(VENV)/.dev
	$(BIN)/python bench/search.py $(BENCH_SEARCH_ARGS)

# A PNG of each main page into docs/screenshots/, from the browser tests' own site (seeded gunicorn + Chromium).
screenshots: $(VENV)/.dev translations
	cd $(BACKEND) && $(BIN)/python -m tests.helpers.screenshots ../docs/screenshots
# The background-export worker's PSS (flask rq-worker on Redis db 5) while it writes each format; the target is
# set at 1M rows: make bench-background BENCH_BACKGROUND_ARGS='--rows 1000000' (seeded once, minutes).
BENCH_BACKGROUND_ARGS ?=
bench-background: $(VENV)/.dev
	$(BIN)/python bench/background_exports.py $(BENCH_BACKGROUND_ARGS)

bench-report: $(VENV)/.dev
	$(BIN)/python bench/report.py --keep-machine

# Type-check .railway/railway.ts against the Railway SDK in a throwaway directory (needs node + npm;
# the repository itself stays free of node_modules).
railway-check:
	@tmp=$$(mktemp -d) && cp -R .railway "$$tmp/" && cd "$$tmp" && npm init -y >/dev/null && \
		npm install --no-audit --no-fund --silent railway@3.11.0 typescript@7.0.2 && \
		npx tsc --noEmit --strict --target es2022 --module nodenext --moduleResolution nodenext \
			--skipLibCheck .railway/railway.ts; \
		status=$$?; rm -rf "$$tmp"; \
		if [ $$status -eq 0 ]; then echo ".railway/railway.ts type-checks against railway@3.11.0"; fi; exit $$status

clean:
	rm -rf $(VENV) backend/instance .pytest_cache .ruff_cache
