#!/usr/bin/env bash
# Installs what the MCP gateway's integration tests drive from npm into a cache under the
# build directory, at pinned versions: the official MCP TypeScript SDK (its client) and
# the reference servers (filesystem, memory, everything: the last one serves the
# Streamable HTTP transport too). Already installed at the pinned version:
# nothing is fetched, so running it twice costs nothing.
#
# usage: scripts/npm-mcp-deps.sh [PREFIX]     (default: $AGENTGOV_BUILD/npm-mcp, build/npm-mcp)
# Prints nothing on success.
set -euo pipefail

SDK_VERSION=1.32.2
SERVERS_VERSION=2026.8.31

root=$(cd "$(dirname "$0")/.." && pwd)
build=${AGENTGOV_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
prefix=${1:-$build/npm-mcp}

command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || {
  echo "npm-mcp-deps: node and npm are needed (apt-get install nodejs npm)" >&2
  exit 1
}

# The version a package has in the cache, empty when it is not there.
installed() {
  local pj="$prefix/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" || true
}

want=()
[ "$(installed @modelcontextprotocol/sdk)" = "$SDK_VERSION" ] ||
  want+=("@modelcontextprotocol/sdk@$SDK_VERSION")
for s in server-filesystem server-memory server-everything; do
  [ "$(installed "@modelcontextprotocol/$s")" = "$SERVERS_VERSION" ] ||
    want+=("@modelcontextprotocol/$s@$SERVERS_VERSION")
done
if [ ${#want[@]} -gt 0 ]; then
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{"name":"agentgov-test-mcp","private":true}' >"$prefix/package.json"
  echo "npm-mcp-deps: installing ${want[*]} into $prefix" >&2
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "${want[@]}" >&2
fi
for f in node_modules/@modelcontextprotocol/sdk/package.json \
  node_modules/@modelcontextprotocol/server-filesystem/package.json \
  node_modules/@modelcontextprotocol/server-memory/package.json \
  node_modules/@modelcontextprotocol/server-everything/package.json; do
  [ -f "$prefix/$f" ] || { echo "npm-mcp-deps: $prefix/$f is missing after the install" >&2; exit 1; }
done
