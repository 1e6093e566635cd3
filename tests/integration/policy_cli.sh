#!/usr/bin/env bash
# agentgov policy lint/show/walk and agentgov check: exit codes, messages and JSON,
# against the real binary and the shipped policy.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_DIR="$T/data"   # no policy.yaml there: the shipped policy is used
DEFAULT="$SRC/policies/default.yaml"

json_field() { # JSON FIELD: prints the field's value (null as "null")
    python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print("null" if v is None else v)' "$1" "$2"
}

# ---- check: exit codes 0 allow, 2 deny, 3 ask ----------------------------------------
check_exit "check allow" 0 "$AG" check --tier 1 --action ssh.exec --resource sandbox/web-01 --phase EXECUTE
check_contains "check allow text" "$OUT" "allow rule_allow rule=$DEFAULT:"
check_exit "check deny (default)" 2 "$AG" check --tier 1 --action ansible.apply --resource staging/site.yml --phase EXECUTE
check_contains "check deny reason" "$OUT" "deny default_deny"
check_exit "check ask" 3 "$AG" check --tier 4 --action governance.write --resource governance/tiers --phase EXECUTE
check_contains "check ask reason" "$OUT" "ask rule_ask"
check_exit "check phase" 2 "$AG" check --tier 1 --action ssh.exec --resource sandbox/web-01 --phase plan
check_contains "check phase reason" "$OUT" "deny phase_not_allowed"
check_exit "check prod write" 2 "$AG" check --tier 4 --action ssh.exec --resource prod/db-01 --phase EXECUTE
check_contains "check prod write reason" "$OUT" "deny rule_deny"
check_exit "check scope" 2 "$AG" check --tier 1 --action ssh.exec --resource sandbox/db-01 --phase EXECUTE --scope 'sandbox/web-*' --scope 'lab/**'
check_contains "check scope reason" "$OUT" "deny out_of_scope"
check_exit "check forbidden" 2 "$AG" check --tier 1 --action ssh.exec --resource sandbox/web-01 --phase EXECUTE --forbidden 'db.*' --forbidden 'ssh.*'
check_contains "check forbidden reason" "$OUT" "deny forbidden_action"
check_exit "check .. climbing out of scope" 2 "$AG" check --tier 3 --action ssh.exec --resource sandbox/../prod/db-01 --phase EXECUTE --scope 'sandbox/**'
check_contains "check .. is an invalid request" "$OUT" "deny invalid_request"
printf 'version: 1\nrules:\n  - {effect: deny, actions: ["**"], resources: ["prod/**\\0 and staging/**"], min_tier: 0}\n' >"$T/nul.yaml"
check_exit "lint: a \\0 escape is an error" 2 "$AG" policy lint "$T/nul.yaml"
check_contains "lint: names file, line and field" "$OUT$ERR" "nul.yaml:3:49: NUL character (\0) in a value of 'resources'"

# ---- check --json ----------------------------------------------------------------------
check_exit "json allow" 0 "$AG" check --json --tier 3 --action prod.read --resource prod/db --phase VERIFY
check_eq "json decision" "$(json_field "$OUT" decision)" allow
check_eq "json reason" "$(json_field "$OUT" reason)" rule_allow
check_eq "json tier" "$(json_field "$OUT" tier)" 3
check_eq "json phase" "$(json_field "$OUT" phase)" VERIFY
check_eq "json rule_file" "$(json_field "$OUT" rule_file)" "$DEFAULT"
line=$(json_field "$OUT" rule_line)
check_eq "json rule" "$(json_field "$OUT" rule)" "$DEFAULT:$line"
check_contains "json rule line is the prod-read rule" "$(sed -n "${line}p" "$DEFAULT")" "prod-read"
check_exit "json no phase" 2 "$AG" check --json --tier 0 --action ssh.exec --resource sandbox/a
check_eq "json null phase" "$(json_field "$OUT" phase)" null
check_eq "json null rule" "$(json_field "$OUT" rule)" null

# ---- check: usage and internal errors exit 1 and still print a deny --------------------
check_exit "check missing tier" 1 "$AG" check --action a.b --resource x
check_contains "missing tier deny" "$OUT" "deny invalid_request"
check_contains "missing tier message" "$ERR" "--tier, --action and --resource are required"
check_exit "check bad tier json" 1 "$AG" check --json --tier 5 --action a.b --resource x
check_eq "bad tier json deny" "$(json_field "$OUT" decision)" deny
check_eq "bad tier json reason" "$(json_field "$OUT" reason)" invalid_request
check_exit "check bad phase" 1 "$AG" check --tier 1 --phase RUN --action a.b --resource x
check_contains "bad phase message" "$ERR" "unknown phase 'RUN'"
check_exit "check bad scope glob" 1 "$AG" check --tier 1 --action a.b --resource x --scope 'x/['
check_contains "bad scope message" "$ERR" "unterminated character class"
check_exit "check unknown option" 1 "$AG" check --tier 1 --action a.b --resource x --bogus
check_contains "unknown option deny" "$OUT" "deny invalid_request"
check_exit "check missing policy" 1 "$AG" check --policy "$T/none.yaml" --tier 1 --action a.b --resource x
check_contains "missing policy deny" "$OUT" "deny no_policy"
check_contains "missing policy message" "$ERR" "none.yaml"
printf 'version: 1\nrules: [\n' >"$T/broken.yaml"
check_exit "check broken policy" 1 "$AG" check --json --policy "$T/broken.yaml" --tier 1 --action a.b --resource x
check_eq "broken policy deny" "$(json_field "$OUT" reason)" no_policy
check_exit "check help" 0 "$AG" check --help
check_contains "check help text" "$OUT" "Exits 0 allow, 2 deny, 3 ask"
check_contains "check help lists the table" "$OUT" "4 ERROR  could not answer"

# ---- policy resolution: --policy, then <dir>/policy.yaml, then the shipped file --------
mkdir -p "$T/data"
cat >"$T/data/policy.yaml" <<'YAML'
version: 1
rules:
  - {effect: allow, actions: [custom.run], resources: ["**"], min_tier: 0}
YAML
check_exit "datadir policy used" 0 "$AG" check --tier 0 --action custom.run --resource x
check_contains "datadir policy path" "$OUT" "$T/data/policy.yaml:3"
check_exit "--dir picks the policy" 2 "$AG" --dir "$T/elsewhere" check --tier 0 --action custom.run --resource x
check_exit "--policy wins" 2 "$AG" check --policy "$DEFAULT" --tier 0 --action custom.run --resource x
rm "$T/data/policy.yaml"

# ---- policy lint ------------------------------------------------------------------------
check_exit "lint default" 0 "$AG" policy lint "$DEFAULT"
check_contains "lint default ok" "$OUT" "default.yaml: ok"
cat >"$T/bad.yaml" <<'YAML'
version: 1
tiers:
  1: {name: Operator}
  1: {name: Twice}
rules:
  - effect: permit
    actions: ["ssh.[ab"]
    resources: [x]
    phases: [RUN]
    tiers: [7]
    colour: red
  - {effect: allow, resources: [x], min_tier: 0}
YAML
check_exit "lint bad" 2 "$AG" policy lint "$T/bad.yaml"
check_contains "lint duplicate tier" "$OUT" "$T/bad.yaml:4:3: duplicate tier 1 in tiers (first at line 3, column 3)"
check_contains "lint bad effect" "$OUT" "$T/bad.yaml:6:13: bad effect 'permit' (expected allow, deny or ask)"
check_contains "lint bad glob" "$OUT" "$T/bad.yaml:7:15: bad action glob 'ssh.[ab': unterminated character class at offset 4"
check_contains "lint unknown phase" "$OUT" "$T/bad.yaml:9:14: unknown phase 'RUN'"
check_contains "lint tier range" "$OUT" "$T/bad.yaml:10:13: tier out of range: 7 (tiers are 0..4)"
check_contains "lint unknown key" "$OUT" "$T/bad.yaml:11:5: unknown key 'colour' in a rule"
check_contains "lint missing actions" "$OUT" "$T/bad.yaml:12:5: rule is missing 'actions'"
check_eq "lint counts every problem" "$(printf '%s\n' "$OUT" | wc -l)" 7
check_contains "lint summary" "$ERR" "7 problems"
check_exit "lint missing file" 2 "$AG" policy lint "$T/none.yaml"
check_contains "lint missing file message" "$OUT$ERR" "none.yaml"
check_exit "lint no file" 1 "$AG" policy lint
check_exit "lint help" 0 "$AG" policy lint --help

# ---- policy show and walk ---------------------------------------------------------------
check_exit "show default" 0 "$AG" policy show
check_contains "show tier header" "$OUT" "T3 Executor (token TTL 15m, max TTL 1h)"
check_contains "show table header" "$OUT" "EFFECT  ACTIONS"
check_contains "show ask rule" "$OUT" "ask     governance.write"
check_contains "show deny rule" "$OUT" "no-prod-writes"
check_exit "show file" 0 "$AG" policy show "$DEFAULT"
check_exit "show broken" 1 "$AG" policy show "$T/broken.yaml"
check_exit "walk default" 0 "$AG" policy walk
check_contains "walk header" "$OUT" "ACTION            RESOURCE"
check_contains "walk phase row" "$OUT" "deny:phase"
check_contains "walk ask" "$OUT" "ask"
check_exit "walk verbose" 0 "$AG" policy walk -v
check_contains "walk verbose reason" "$OUT" "phase_not_allowed"
check_exit "policy help" 0 "$AG" policy --help
check_exit "policy no subcommand" 1 "$AG" policy
check_exit "policy unknown subcommand" 1 "$AG" policy frobnicate

finish
