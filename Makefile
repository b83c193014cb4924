# The two commands: `make run` and `make test`. Every target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_FLAGS ?=
# `make test` runs the suite on this many pytest-xdist workers, each with its own PostgreSQL and broker
# (tests/conftest.py's `stack`). The suite mostly waits on the real stack, so more workers than cores
# wins; measured on the 2-core machine (README, "Tests"). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 4
XDIST = -n $(TEST_WORKERS) --dist loadgroup

.PHONY: bootstrap run test test-all lint bench schemas demo images clean user

bootstrap:
	@command -v uv >/dev/null 2>&1 || test -x $(UV) || python3 -m pip install --quiet --user uv
	@$(UV) sync --frozen --quiet --compile-bytecode  # .pyc at install: each service process starts ~0.45 s sooner (PYTHONDONTWRITEBYTECODE may be set)
	@# Debian packages: Chromium for the browser tests (Playwright's own download is not reachable), Prometheus for
	@# `make run`'s monitoring and the alert tests. Installed once, in one apt call, only when missing.
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	  if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

run: bootstrap
	$(UV) run platform run

test: bootstrap
	$(UV) run pytest -m "not slow" $(XDIST) $(PYTEST_FLAGS)

test-all: bootstrap
	$(UV) run pytest $(XDIST) $(PYTEST_FLAGS)

lint: bootstrap
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy contracts/src/contracts libs/chassis/src/chassis
	$(UV) run lint-imports

bench: bootstrap
	$(UV) run python -m bench

schemas: bootstrap
	$(UV) run python -m contracts.snapshots --write
	$(UV) run python -m platform_cli.asyncapi --write  # contracts/asyncapi/<service>.json

# A staff account on `make run`'s platform: `make user EMAIL=you@vendor.example NAME="Your Name" ROLE=ops`
# (or ROLE=technician). The invitation email lands in .data/mail; its link is printed here too.
user: bootstrap
	@test -n "$(EMAIL)" || { echo 'usage: make user EMAIL=you@vendor.example NAME="Your Name" ROLE=ops|technician'; exit 2; }
	DATABASE_URL=postgresql://postgres@127.0.0.1:$${PLATFORM_PG_PORT:-54329}/web DEV_MODE=true \
	  $(UV) run web users add --email "$(EMAIL)" --name "$(or $(NAME),$(EMAIL))" --role "$(or $(ROLE),ops)" --print-link

demo: bootstrap
	$(UV) run platform demo --embedded

images:
	@command -v docker >/dev/null 2>&1 || { echo "docker is not installed here"; exit 1; }
	for s in onboarding sim-logistics ism-provisioning support notifier web; do \
	  docker build --build-arg SERVICE=$$s -t integrator-platform/$$s:dev . || exit 1; done

clean:
	rm -rf .data
