# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 4943
HOST ?= 127.0.0.1
STATE ?= .state/localnet
# auto: rustpython (Kybra's interpreter in wasm, IC instruction limits) when ../shared/runtimes has it
RUNTIME ?= auto
ICP_VERSION := 1.5.0
ICP := .tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp
JS_AGENT := .tools/node_modules/@icp-sdk/core/package.json
export ICP_BIN := $(abspath $(ICP))
export DO_NOT_TRACK := 1

.PHONY: setup run test lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The real icp CLI and the JS agent, the unchanged clients the tests run against localnet.
$(ICP) $(JS_AGENT):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools \
		@icp-sdk/icp-cli-linux-x64@$(ICP_VERSION) @icp-sdk/core@6.1.0

setup: $(VENV)/.installed $(ICP) $(JS_AGENT)

run: setup
	$(PY) scripts/run_local.py --host $(HOST) --port $(PORT) --state $(STATE) --runtime $(RUNTIME)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup
	$(PY) -m benchmarks.engine
	$(PY) -m benchmarks.engine_wasm
	$(PY) -m benchmarks.canister_wasm
	$(PY) -m benchmarks.create_spread
	$(PY) -m benchmarks.upgrade_warmup
	$(PY) -m benchmarks.index_spread
	$(PY) -m benchmarks.localnet
	$(PY) -m benchmarks.candid_budget
	$(PY) -m benchmarks.client
	$(PY) -m benchmarks.certified

clean:
	rm -rf $(VENV) .tools .state
