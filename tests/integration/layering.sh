#!/usr/bin/env bash
# scripts/check-layering.sh: passes on the tree, and fails, naming file and line, on a
# copy of it with a violation planted (a module including one above it; src/cli
# including another module's private header; a public header including a higher one;
# a module missing from the layering).
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHECK="$ROOT/scripts/check-layering.sh"

check_exit "the tree keeps the layering" 0 bash "$CHECK" "$ROOT"
check_contains "says so" "$OUT" "check-layering: ok"

# A fresh copy of the sources for each planted violation.
copy() {
    rm -rf "$T/tree"
    mkdir -p "$T/tree"
    cp -r "$ROOT/src" "$ROOT/include" "$T/tree/"
}
# plant FILE TEXT: TEXT becomes line 2 of FILE.
plant() { sed -i "2i $2" "$T/tree/$1"; }

copy
check_exit "a clean copy passes" 0 bash "$CHECK" "$T/tree"

copy
plant src/policy/glob.c '#include "server/server.h"'
check_exit "policy including the server fails" 1 bash "$CHECK" "$T/tree"
check_contains "names file and line" "$OUT" 'src/policy/glob.c:2: policy includes "server/server.h" of server, which is above it'

copy
plant src/ledger/ledger.c '#include "agentgov/gov.h"'
check_exit "a public header of a higher module fails" 1 bash "$CHECK" "$T/tree"
check_contains "names it" "$OUT" 'src/ledger/ledger.c:2: ledger includes "agentgov/gov.h" of gov, which is above it'

copy
plant src/cli/cmd_version.c '#include "ledger/keys.h"'
check_exit "the CLI including a private header fails" 1 bash "$CHECK" "$T/tree"
check_contains "names file, line and rule" "$OUT" 'src/cli/cmd_version.c:2: cli includes "ledger/keys.h", a private header of ledger'

copy
plant src/cli/run_backstop.c '#include "runner/sandbox.h"'
check_exit "no exemption: the backstop's front end may not reach into the runner" 1 bash "$CHECK" "$T/tree"
check_contains "names it" "$OUT" 'src/cli/run_backstop.c:2: cli includes "runner/sandbox.h", a private header of runner'

copy
plant src/server/routes.c '#include "hook/hook_eval.h"'
check_exit "the daemon including a private header fails" 1 bash "$CHECK" "$T/tree"
check_contains "names it" "$OUT" 'src/server/routes.c:2: server includes "hook/hook_eval.h", a private header of hook'

copy
plant include/agentgov/policy.h '#include "agentgov/home.h"'
check_exit "a public header including a higher one fails" 1 bash "$CHECK" "$T/tree"
check_contains "names it" "$OUT" 'include/agentgov/policy.h:2: policy includes "agentgov/home.h" of home'

copy
mkdir "$T/tree/src/widgets"
echo '#include "core/err.h"' >"$T/tree/src/widgets/w.c"
check_exit "a module outside the layering fails" 1 bash "$CHECK" "$T/tree"
check_contains "asks for it to be placed" "$OUT" 'src/widgets/w.c:1: module "widgets" is not in the layering'

copy
plant src/hook/hook.c '#include "gov/gov.h"'
check_exit "a lower module's header is fine" 0 bash "$CHECK" "$T/tree"

finish
