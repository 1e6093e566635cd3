#!/usr/bin/env bash
# Installs the Debian packages agentgov needs to build, test and benchmark.
# Packages already present are skipped, so running it twice costs nothing.
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libsqlite3-dev sqlite3 libjansson-dev libfyaml-dev libsodium-dev
  libmicrohttpd-dev libcurl4-openssl-dev libhiredis-dev libseccomp-dev libssl-dev
  redis-server curl python3
  chromium nodejs
)
# Only `make check` and the benchmarks need these; install them with --all (--bench:
# only what the benchmarks need, for `make bench`).
EXTRA=(clang libclang-rt-14-dev valgrind cppcheck clang-format wrk)
BENCH=(wrk)

want=("${PKGS[@]}")
[ "${1:-}" = "--all" ] && want+=("${EXTRA[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real Claude Code and Codex CLIs that tests/integration/real_*.sh drive, from npm
# into the build directory (Node and npm from Debian when missing). Without the npm
# registry those two suites say so and skip; nothing else needs them.
bash "$(dirname "$0")/npm-deps.sh" ||
  echo "deps: the coding-agent CLIs are not installed (see scripts/npm-deps.sh)" >&2

# playwright-core (npm) for the dashboard's browser tests; the browser is Debian's
# chromium, installed above. Without the npm registry only tests/integration/ui_browser.sh fails.
bash "$(dirname "$0")/browser-deps.sh" ||
  echo "deps: playwright-core is not installed (see scripts/browser-deps.sh)" >&2
