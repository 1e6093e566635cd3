// The official TypeScript SDK's Client over its StreamableHTTPClientTransport, for what
// the Streamable HTTP gateway must relay beyond one request and its answer: progress
// notifications while a call runs (their arrival times, relative to the call's start),
// the server's log messages on the standalone GET stream, the server's own requests
// (sampling) answered by the client, and ending the session (DELETE).
// usage: node mcp_http_client.cjs PLAN.json
// PLAN: {"url": "...", "token": "..." (optional), "steps": [
//   {"op": "list"} | {"op": "call", "name": N, "arguments": {...}, "progress": true}
//   | {"op": "sleep", "ms": N} | {"op": "logs"} (the log messages received so far)
//   | {"op": "session"} | {"op": "terminate"}]}
// Prints one JSON line per step: {"step": i, "ok": true, "result": ..., "t_end": ms,
// "progress_t": [ms...]} or {"step": i, "ok": false, "code": N, "message": "..."}, then
// {"done": true, "t_start": epoch ms}.
const fs = require("fs");
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { LoggingMessageNotificationSchema, CreateMessageRequestSchema } = require("@modelcontextprotocol/sdk/types.js");

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const opts = plan.token ? { requestInit: { headers: { Authorization: "Bearer " + plan.token } } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(plan.url), opts);
  const client = new Client({ name: "agentgov-http-test", version: "1.0.0" }, { capabilities: { sampling: {} } });
  const logs = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: "test-model", role: "assistant", content: { type: "text", text: "sampled by the test client" },
  }));
  const t0 = Date.now();
  await client.connect(transport);
  for (let i = 0; i < plan.steps.length; i++) {
    const s = plan.steps[i];
    const start = Date.now();
    let out;
    try {
      let r;
      const progress = [];
      if (s.op === "list") r = (await client.listTools()).tools.map((t) => t.name);
      else if (s.op === "call") {
        const o = s.progress ? { onprogress: () => progress.push(Date.now() - start), timeout: 60000 } : undefined;
        r = await client.callTool({ name: s.name, arguments: s.arguments || {} }, undefined, o);
      } else if (s.op === "sleep") r = await new Promise((ok) => setTimeout(() => ok(null), s.ms));
      else if (s.op === "logs") r = logs.slice();
      else if (s.op === "session") r = transport.sessionId;
      else if (s.op === "terminate") { const id = transport.sessionId; await transport.terminateSession(); r = id; }
      else throw new Error("unknown op " + s.op);
      out = { step: i, ok: true, result: r, t_end: Date.now() - t0 };
      if (s.progress) { out.progress_t = progress; out.t_call = Date.now() - start; }
    } catch (e) {
      out = { step: i, ok: false, code: e.code === undefined ? null : e.code, message: String(e.message), t_end: Date.now() - t0 };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
  process.stdout.write(JSON.stringify({ done: true, t_start: t0 }) + "\n");
  await client.close();
}
main().catch((e) => { process.stderr.write("mcp_http_client: " + (e.stack || e) + "\n"); process.exit(3); });
