# natswire: `make test` and `make bench` set up .venv by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
BENCH_ARGS ?=

.PHONY: test lint typecheck unit rabbitmq fuzz fuzz-smoke bench bench-smoke bench-micro demo clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

test: lint typecheck unit fuzz-smoke bench-smoke

lint: $(INSTALLED)
	$(BIN)/ruff check natswire tests benchmarks fuzz

typecheck: $(INSTALLED)
	$(BIN)/mypy natswire

unit: $(INSTALLED) rabbitmq
	$(BIN)/python -m pytest -q

# The migration tests (tests/migrate) run Debian's rabbitmq-server: install it when missing.
rabbitmq:
	sh scripts/ensure-rabbitmq

fuzz-smoke: $(INSTALLED)
	$(BIN)/python -m fuzz --seconds $(FUZZ_SMOKE_SECONDS)

fuzz: $(INSTALLED)
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS)

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

demo: $(INSTALLED)
	$(BIN)/python -m natswire demo

# amqp-scale starts a private RabbitMQ too (300 queues with --quick).
bench-smoke: $(INSTALLED) rabbitmq
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks --quick --workloads amqp-scale

bench-micro: $(INSTALLED)
	$(BIN)/python -m pytest -q benchmarks --benchmark-only -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
