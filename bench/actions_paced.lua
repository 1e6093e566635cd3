-- wrk script: bench/actions.lua's governed action, each connection waiting PACE_MS
-- (default 10) between its requests, so that the daemon runs below saturation and the
-- latency measured is the action's own rather than a queue's (bench/otlp.sh).
local token = os.getenv("AG_TOKEN")
local agent = os.getenv("AG_AGENT") or "bench-agent"
local pace = tonumber(os.getenv("PACE_MS") or "10")
wrk.method = "POST"
wrk.path = "/v1/agents/" .. agent .. "/actions"
wrk.headers["X-Vault-Token"] = token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action":"docs.read","resource":"docs/runbook","confidence":900}'

function delay()
    return pace
end
