#!/usr/bin/env bash
# Installs what the dashboard's browser tests drive (tests/integration/ui_browser.sh):
# playwright-core from npm into a cache under the build directory, at a pinned
# version. The browser is Debian's chromium (scripts/deps.sh); playwright-core never
# downloads one of its own. Already installed at the pinned version: nothing is fetched.
#
# usage: scripts/browser-deps.sh [PREFIX]   (default: $AGENTGOV_BUILD/npm-browser)
set -euo pipefail

PLAYWRIGHT_CORE_VERSION=1.65.1

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AGENTGOV_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
prefix=${1:-$build/npm-browser}

command -v npm >/dev/null 2>&1 || { echo "browser-deps: npm is missing (scripts/deps.sh installs nodejs)" >&2; exit 1; }
pj="$prefix/node_modules/playwright-core/package.json"
have=$([ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" || true)
if [ "$have" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{"name":"agentgov-browser-tests","private":true}' >"$prefix/package.json"
  echo "browser-deps: installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $prefix" >&2
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund \
    --loglevel=error "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2
fi
[ -f "$pj" ] || { echo "browser-deps: $pj is missing after the install" >&2; exit 1; }
