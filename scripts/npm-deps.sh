#!/usr/bin/env bash
# Installs the real coding-agent CLIs the integration tests drive (Claude Code and the
# Codex CLI) from npm into a cache under the build directory, at pinned versions.
# Already installed at the pinned version: nothing is fetched, so running it twice costs
# nothing. Node and npm come from Debian when they are missing.
#
# usage: scripts/npm-deps.sh [PREFIX]     (default: $AGENTGOV_BUILD/npm, build/npm)
# Prints nothing on success; the CLIs are PREFIX/node_modules/.bin/{claude,codex}.
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0

root=$(cd "$(dirname "$0")/.." && pwd)
build=${AGENTGOV_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
prefix=${1:-$build/npm}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "npm-deps: installing Debian's nodejs and npm" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# The version a package has in the cache, empty when it is not there.
installed() {
  local pj="$prefix/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" || true
}

want=()
[ "$(installed @anthropic-ai/claude-code)" = "$CLAUDE_CODE_VERSION" ] ||
  want+=("@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION")
[ "$(installed @openai/codex)" = "$CODEX_VERSION" ] || want+=("@openai/codex@$CODEX_VERSION")
if [ ${#want[@]} -gt 0 ]; then
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{"name":"agentgov-test-clients","private":true}' >"$prefix/package.json"
  echo "npm-deps: installing ${want[*]} into $prefix" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "${want[@]}" >&2
fi
for bin in claude codex; do
  [ -x "$prefix/node_modules/.bin/$bin" ] || {
    echo "npm-deps: $prefix/node_modules/.bin/$bin is missing after the install" >&2
    exit 1
  }
done
