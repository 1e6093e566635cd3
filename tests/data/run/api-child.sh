#!/bin/sh
# A governed child that uses the governance API through the CLI, as an agent would:
# one authorized read, one counted error, then its deliverable.
"$AGENTGOV_BIN" agent authorize "$AGENTGOV_AGENT_ID" docs.read sandbox/readme || exit 21
"$AGENTGOV_BIN" agent error "$AGENTGOV_AGENT_ID" flaky_tool "first attempt failed" || exit 22
echo "token ${AGENTGOV_TOKEN%%.*} task $AGENTGOV_TASK_ID addr [$AGENTGOV_ADDR]" > result.txt
echo "child done"
