#!/usr/bin/env bash
# The dashboard in headless Chromium (Debian's, scripts/deps.sh) driven by playwright-core
# (npm, scripts/browser-deps.sh) against the real daemon: a token without rights is
# refused, sign-in, an agent appearing when it bootstraps, a decision in the live tail
# within a second, the chain link and verify, an approval approved on the page and the
# agent's retry allowed once, a task's blackboard, messages and votes, a pipeline run drawn as its DAG (edges, states) and its
# gate approved from the page, a CSRF-less request refused, demote and promote (each
# cancelled, then confirmed), revoke, sign-out. Screenshots of every page go to <build>/screenshots/. The checks are in
# ui_browser.cjs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
BUILD_DIR=$(cd "$(dirname "$AG")" && pwd)
PW="$BUILD_DIR/npm-browser/node_modules/playwright-core"
[ -x /usr/bin/chromium ] || { not_ok "chromium is installed" "run scripts/deps.sh (Debian's chromium)"; finish; }
[ -d "$PW" ] || AGENTGOV_BUILD="$BUILD_DIR" bash "$SRC/scripts/browser-deps.sh" >/dev/null 2>&1
[ -d "$PW" ] || { not_ok "playwright-core is installed" "run scripts/browser-deps.sh"; finish; }
init_data_dir
# The shipped policy and one ask rule, so that an agent's deploy waits for a person.
python3 - "$SRC/policies/default.yaml" "$T/policy.yaml" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("\nsandbox:")
rule = """  - id: ui-test-deploy
    description: a deploy to the sandbox needs a person (the dashboard's browser test)
    effect: ask
    actions: [deploy.run]
    resources: [sandbox/**]
    min_tier: 1
    approval:
      timeout: 10m
      approvers: [admin]
"""
open(sys.argv[2], "w").write(s[:i] + "\n" + rule + s[i:])
PY
start_daemon --policy "$T/policy.yaml"
BASE=$BASE ROOT=$ROOT PY=$PY PLAYWRIGHT=$PW SHOTS="$BUILD_DIR/screenshots" PROFILE="$T/profile" \
    timeout 120 node "$SRC/tests/integration/ui_browser.cjs" >"$T/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) not_ok "${line#FAIL }" ;;
    esac
done <"$T/browser.out"
grep -q '^browser: ' "$T/browser.out" || not_ok "the browser run finished" "exit $rc" "$(tail -5 "$T/browser.out")"
for p in signin overview agents approvals task pipeline-run pipeline-dag-done tail promote-confirm agent-timeline; do
    [ -s "$BUILD_DIR/screenshots/$p.png" ] && ok "screenshot $p.png" || not_ok "screenshot $p.png"
done
# The pipeline run waits at its gate: cancelled, so that its driver does not outlive the test.
for run in $("$AG" --dir "$D" pipeline list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); [print(r["run_id"]) for r in (d if isinstance(d, list) else d.get("runs", d.get("data", [])))]'); do
    "$AG" --dir "$D" pipeline cancel "$run" >/dev/null 2>&1
done
stop_daemon
check_eq "the daemon stops cleanly" "$DRC" 0
finish
