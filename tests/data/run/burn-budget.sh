#!/bin/sh
# Reports a new error every 50 ms until the error budget revokes the agent; the
# runner must then stop this loop (it never stops by itself).
i=0
while :; do
    i=$((i + 1))
    "$AGENTGOV_BIN" agent error "$AGENTGOV_AGENT_ID" "kind$i" "attempt $i" >/dev/null 2>&1
    echo "error $i reported"
    sleep 0.05
done
