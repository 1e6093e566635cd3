// A real MCP client for the gateway's tests: the official TypeScript SDK's Client over
// its stdio transport, or its Streamable HTTP transport when the plan has "url".
// usage: node mcp_client.cjs PLAN.json
// PLAN: {"command": "...", "args": [...], "steps": [{"op": "list"} | {"op": "call",
// "name": "...", "arguments": {...}} | {"op": "read", "uri": "..."} | {"op": "sleep",
// "ms": N}]}; with "url", "token" is sent as "Authorization: Bearer TOKEN". Prints one
// JSON line per step: {"step": i, "ok": true, "result": ...} or
// {"step": i, "ok": false, "code": N, "message": "..."}.
const fs = require("fs");
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");

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
