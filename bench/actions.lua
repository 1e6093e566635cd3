-- wrk script: POST /v1/agents/{id}/actions with the agent's token (the governed hot
-- path: token lookup, decision, durable ledger entry). bench/http.sh sets AG_TOKEN and
-- AG_AGENT. wrk prints "Non-2xx or 3xx responses" itself; denials are 200s, so the
-- script checks /metrics afterwards to see that the actions were allowed.
local token = os.getenv("AG_TOKEN")
local agent = os.getenv("AG_AGENT") or "bench-agent"
wrk.method = "POST"
wrk.path = "/v1/agents/" .. agent .. "/actions"
wrk.headers["X-Vault-Token"] = token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action":"docs.read","resource":"docs/runbook","confidence":900}'
