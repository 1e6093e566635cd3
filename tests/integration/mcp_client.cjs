// A real MCP client for the gateway's tests: the official TypeScript SDK's Client over
// its stdio transport, or its Streamable HTTP transport when the plan has "url".
// usage: node mcp_client.cjs PLAN.json
// PLAN: {"command": "...", "args": [...], "steps": [{"op": "list"} | {"op": "call",
// "name": "...", "arguments": {...}} | {"op": "read", "uri": "..."} | {"op": "sleep",
// "ms": N} | {"op": "changes"} (how many notifications/tools/list_changed the client has
// received so far) | {"op": "caps"} (the server's capabilities) | {"op": "wait_change", "ms": N} (waits up to N ms for one more;
// true when it came)]}; with "url", "token" is sent as "Authorization: Bearer TOKEN".
// Prints one JSON line per step: {"step": i, "ok": true, "result": ...} or
// {"step": i, "ok": false, "code": N, "message": "..."}.
const fs = require("fs");
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { ToolListChangedNotificationSchema } = require("@modelcontextprotocol/sdk/types.js");

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const transport = plan.url
    ? new StreamableHTTPClientTransport(new URL(plan.url),
      plan.token ? { requestInit: { headers: { Authorization: "Bearer " + plan.token } } } : undefined)
    : new StdioClientTransport({
      command: plan.command, args: plan.args, env: { ...process.env, ...(plan.env || {}) },
      stderr: "inherit",
    });
  const client = new Client({ name: "agentgov-test", version: "1.0.0" });
  let changes = 0, onChange = null;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes++;
    if (onChange) onChange();
  });
  await client.connect(transport);
  for (let i = 0; i < plan.steps.length; i++) {
    const s = plan.steps[i];
    let out;
    try {
      let r;
      if (s.op === "list") r = (await client.listTools()).tools.map((t) => t.name);
      else if (s.op === "call") r = await client.callTool({ name: s.name, arguments: s.arguments || {} });
      else if (s.op === "read") r = await client.readResource({ uri: s.uri });
      else if (s.op === "sleep") r = await new Promise((ok) => setTimeout(() => ok(null), s.ms));
      else if (s.op === "changes") r = changes;
      else if (s.op === "caps") r = client.getServerCapabilities();
      else if (s.op === "wait_change") {
        const before = changes;
        r = await new Promise((ok) => {
          const t = setTimeout(() => ok(changes > before), s.ms);
          onChange = () => { clearTimeout(t); ok(true); };
        });
        onChange = null;
      }
      else throw new Error("unknown op " + s.op);
      out = { step: i, ok: true, result: r };
    } catch (e) {
      out = { step: i, ok: false, code: e.code === undefined ? null : e.code, message: String(e.message) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
  await client.close();
}
main().catch((e) => { process.stderr.write("mcp_client: " + (e.stack || e) + "\n"); process.exit(3); });
