# mqlab — `make lab` to learn, `make test` to check everything. `make help` lists the rest.
# Each target sets up what it needs (a virtual environment in .venv) and is safe to re-run.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LESSONS := $(sort $(wildcard lessons/[0-9]*.ipynb))
# the page `make lab` opens, and the address it prints: the first lesson, else the lessons folder
LAB_PAGE := /lab/tree/$(or $(firstword $(LESSONS)),lessons)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888

.DEFAULT_GOAL := help
.PHONY: help lab test lint format bench images clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install only when the package metadata changed (the stamp is older than pyproject.toml).
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# With rabbitmq-server installed (and no MQLAB_RABBITMQ_URL given), `make lab` also runs a private
# RabbitMQ for lesson 09, as binder/start does on Binder: loopback only, memory capped, in a new
# temporary folder. It starts in the background, so JupyterLab opens at once; notebooks find it
# through MQLAB_RABBITMQ_URL. When JupyterLab exits (or on Ctrl-C), the trap stops that broker,
# by the process ids it recorded, and removes the folder. Without rabbitmq-server, just JupyterLab.
BROKER_PORT := import socket; from mqlab.rabbit_server import installed; \
  s = socket.socket(); s.bind(("127.0.0.1", 0)); installed() and print(s.getsockname()[1])

lab: $(VENV)/.installed ## Set up and open JupyterLab on the first lesson (and a RabbitMQ, if installed)
	@if [ -z "$$MQLAB_RABBITMQ_URL" ] && port=$$($(PY) -c '$(BROKER_PORT)' 2>/dev/null) && [ -n "$$port" ] \
	    && dir=$$(mktemp -d "$${TMPDIR:-/tmp}/mqlab-lab-rabbitmq.XXXXXX"); then \
	  export MQLAB_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$$port/"; \
	  $(PY) -m mqlab.rabbit_server start --base "$$dir" --port $$port --memory 256MB \
	    </dev/null >"$$dir/start.log" 2>&1 & starting=$$!; \
	  trap 'wait $$starting; $(PY) -m mqlab.rabbit_server stop --base "$$dir" >/dev/null; rm -rf "$$dir"' EXIT; \
	  echo "RabbitMQ for lesson 09: starting at $$MQLAB_RABBITMQ_URL (log: $$dir/start.log)"; \
	fi; \
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ip=127.0.0.1 --port=$(PORT) --LabApp.default_url=$(LAB_PAGE)

test: $(VENV)/.installed-test ## Set up and run the whole suite (unit, property, widget, browser, notebooks)
	$(PY) -m pytest tests
ifneq ($(LESSONS),)
	MQLAB_PROGRESS=0 $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg lessons
endif
	$(VENV)/bin/ruff check mqlab tests benchmarks scripts

lint: $(VENV)/.installed-test ## Check the code with ruff
	$(VENV)/bin/ruff check mqlab tests benchmarks scripts

bench: $(VENV)/.installed-test ## Run the benchmarks (engine vs SimPy, a million messages, frames)
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/mm1.py
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/frames.py

images: $(VENV)/.installed ## Regenerate the pictures in images/
	$(PY) scripts/make_images.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache *.egg-info build dist
	find . \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +
