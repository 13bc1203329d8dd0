# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RESTATE_VERSION := 1.7.12
RESTATE_BIN := .dals-runtime/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server
# Real MCP servers nobody here wrote, for tests/integration/test_mcp*.py and bench/mcp.py (pinned).
MCP_SERVERS_VERSION := 2026.8.31
MCP_SERVERS := .mcp-servers/node_modules/.bin/mcp-server-everything
PYTEST_ARGS ?=
VSCODE_DIR := editor-clients/vscode

.PHONY: setup lint emacs vsix demo test chaos test-vscode vscode-e2e-deb test-unit test-replay vscode-vsix clean bench

setup: $(VENV)/.installed $(RESTATE_BIN) $(MCP_SERVERS) $(VSCODE_DIR)/node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The pinned Restate server, from npm, into a gitignored directory where `dals` finds it.
$(RESTATE_BIN):
	npm install --no-fund --no-audit --loglevel=error --prefix .dals-runtime @restatedev/restate-server@$(RESTATE_VERSION)
	test -x $@

# The MCP test servers, from npm, into a gitignored directory (like the Restate server).
$(MCP_SERVERS):
	npm install --no-fund --no-audit --loglevel=error --prefix .mcp-servers \
		@modelcontextprotocol/server-everything@$(MCP_SERVERS_VERSION) \
		@modelcontextprotocol/server-filesystem@$(MCP_SERVERS_VERSION)
	test -x $@ && test -x .mcp-servers/node_modules/.bin/mcp-server-filesystem

# The VS Code extension's build and test dependencies (pinned in its package-lock.json).
$(VSCODE_DIR)/node_modules/.package-lock.json: $(VSCODE_DIR)/package-lock.json
	cd $(VSCODE_DIR) && npm ci --no-fund --no-audit --loglevel=error

# The installable extension (tsc through vscode:prepublish, then vsce); its tests run in pytest.
vsix: $(VSCODE_DIR)/node_modules/.package-lock.json
	cd $(VSCODE_DIR) && npm run --silent package

vscode-vsix: $(VSCODE_DIR)/node_modules/.package-lock.json
	cd $(VSCODE_DIR) && npm test && npm run package

demo: setup
	$(VENV)/bin/dals demo

# The gates, in seconds (mypy keeps its cache in .mypy_cache): ruff lint and format check over the
# Python tree, the import-layer contract (lint-imports, contracts in pyproject.toml), mypy
# over server/ (strict for the contract and settings modules), tsc --noEmit and eslint for the VS
# Code extension (docs/development.md).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	cd $(VSCODE_DIR) && npm run --silent lint

# Emacs 28 + eglot from Debian for tests/e2e/test_emacs_client.py; nothing to do when emacs exists.
emacs:
	@command -v emacs >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox elpa-eglot >/dev/null; }

# The VS Code end-to-end test (VSCODE_E2E_TEST, below) needs about 1 GB of code-server, Node 24 and
# Chromium: make installs them in the background, niced, while the rest of the suite runs, then runs
# that test on its own. Two pytest runs before it (docs/development.md, "What `make test` runs"):
# the unit, fuzz, security and chaos tiers normally, with the end-to-end and integration tests marked
# `live` (paths only a live attempt takes); then every end-to-end and integration test under forced
# replay (marked `replayed` by tests/conftest.py), the VS Code one last (under forced replay too).
# `make test` fails if any pytest run fails or the install fails.
test: setup lint emacs vsix
	@nice -n 19 $(VSCODE_E2E_SUBMAKE) vscode-e2e-install >$(VSCODE_E2E_LOG) 2>&1 & install=$$!; \
	echo "make test: installing the VS Code e2e test's dependencies in the background (log: $(VSCODE_E2E_LOG))"; \
	$(VENV)/bin/pytest -m 'not replayed or live' --deselect $(VSCODE_E2E_TEST) $(PYTEST_ARGS); suite=$$?; \
	if [ $$suite -eq 5 ]; then echo "make test: no test selected for the normal run"; suite=0; fi; \
	echo "make test: every end-to-end and integration test under forced replay"; \
	DALS_FORCE_REPLAY=1 $(VENV)/bin/pytest -m replayed --deselect $(VSCODE_E2E_TEST) $(PYTEST_ARGS); replay=$$?; \
	if [ $$replay -eq 5 ]; then echo "make test: no test selected for the forced replay run"; replay=0; fi; \
	echo "make test: waiting for the VS Code e2e install"; \
	wait $$install; installed=$$?; e2e=1; \
	if [ $$installed -eq 0 ]; then \
		DALS_FORCE_REPLAY=1 DALS_REQUIRE_VSCODE_E2E=1 $(VENV)/bin/pytest $(VSCODE_E2E_TEST) $(VSCODE_E2E_PYTEST_ARGS); e2e=$$?; \
	else \
		echo "make test: the VS Code e2e install failed (exit $$installed); the end of $(VSCODE_E2E_LOG):"; \
		tail -n 40 $(VSCODE_E2E_LOG); \
	fi; \
	echo "make test: normal run exit $$suite, forced replay exit $$replay, VS Code e2e (forced replay) exit $$e2e"; \
	[ $$suite -eq 0 ] && [ $$replay -eq 0 ] && [ $$e2e -eq 0 ]

# Every task suspends and replays its journal after each step: catches non-determinism. Every
# end-to-end and integration test (the VS Code one too once `make vscode-e2e-install` has run);
# `make test` runs the same, in two parts around the VS Code install.
test-replay: setup
	DALS_FORCE_REPLAY=1 $(VENV)/bin/pytest -m replayed $(PYTEST_ARGS)

# VS Code itself (code-server 4.139 on Node 24) driven by Playwright in Debian's Chromium: its
# install (install.sh: about 90 s of CPU, 825 MB) and tests/e2e/test_vscode_codeserver.py alone.
# `make test` runs both too.
VSCODE_E2E := editor-clients/vscode-e2e
VSCODE_E2E_TEST := tests/e2e/test_vscode_codeserver.py
VSCODE_E2E_LOG := $(VSCODE_E2E)/install.log
# The options of PYTEST_ARGS that suit that one test (no paths, -k or -m: it runs anyway).
VSCODE_E2E_PYTEST_ARGS ?= $(filter -q -v -vv -x -s -r%,$(PYTEST_ARGS))

# Named through a variable: make runs a recipe line that names $(MAKE) itself even under `make -n`.
VSCODE_E2E_SUBMAKE = $(MAKE) -j2 --no-print-directory

.PHONY: vscode-e2e-install

# Chromium without its recommends (printing, Samba, Avahi, Perl); fonts-liberation for the screenshots.
vscode-e2e-deb:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }

$(VSCODE_E2E)/node_modules/.installed: $(VSCODE_E2E)/package-lock.json $(VSCODE_E2E)/install.sh
	sh $(VSCODE_E2E)/install.sh
	touch $@

vscode-e2e-install: vscode-e2e-deb $(VSCODE_E2E)/node_modules/.installed

test-vscode: setup vsix
	$(VSCODE_E2E_SUBMAKE) vscode-e2e-install
	DALS_REQUIRE_VSCODE_E2E=1 $(VENV)/bin/pytest $(VSCODE_E2E_TEST) $(PYTEST_ARGS)

# The long randomized crash campaign (>= 200 kill -9s); its report goes to docs/reliability-campaign.md.
chaos: setup
	$(PY) -m tests.chaos.campaign --kills 200 --report docs/reliability-campaign.md

test-unit: setup
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

# The benchmarks of issue 7, one after the other, each on a private runtime in a temporary state
# dir, in quick mode (about 15 minutes on 2 busy cores); they print Markdown tables. Not part of
# `make test`. Full-mode commands (the ones docs/benchmarks.md reports) are listed there.
bench: $(VENV)/.installed $(RESTATE_BIN) $(MCP_SERVERS)
	$(PY) bench/step_cost.py --quick
	$(PY) bench/eager_steps.py --quick
	$(PY) bench/event_latency.py --quick
	$(PY) bench/recovery.py --quick
	$(PY) bench/replay.py --quick
	$(PY) bench/concurrency.py --quick --worker-processes 1,2
	$(PY) bench/responsiveness.py --quick
	$(PY) bench/first_answer.py --runs 5
	$(PY) bench/code_actions.py --quick
	$(PY) bench/footprint.py --quick
	$(PY) bench/footprint.py --at-rest --reps 3
	$(PY) bench/http_client.py --reps 3
	$(PY) bench/signing.py --quick
	$(PY) bench/mcp_calls.py --quick

clean:
	rm -rf $(VENV) .dals-runtime .mcp-servers .pytest_cache .mypy_cache .ruff_cache $(VSCODE_DIR)/node_modules $(VSCODE_DIR)/out $(VSCODE_DIR)/*.vsix $(VSCODE_E2E)/node_modules $(VSCODE_E2E)/install.log
