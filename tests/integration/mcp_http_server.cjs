// A remote MCP server on the Streamable HTTP transport for the gateway's tests, built
// with the official TypeScript SDK (McpServer + StreamableHTTPServerTransport) on
// node's http module. It requires "Authorization: Bearer $TOKEN" and answers with SSE
// (or JSON with --json); --stateless: without sessions (no Mcp-Session-Id, no GET).
// Tools: echo {text}, whoami (says whether a bearer token came), danger.
// usage: node mcp_http_server.cjs PORT_FILE TOKEN [--json] [--stateless]
const http = require("http");
const fs = require("fs");
const { randomUUID } = require("crypto");
const { z } = require("zod");
const { McpServer } = require("@modelcontextprotocol/sdk/server/mcp.js");
const { StreamableHTTPServerTransport } = require("@modelcontextprotocol/sdk/server/streamableHttp.js");
const { isInitializeRequest } = require("@modelcontextprotocol/sdk/types.js");

const [portFile, token] = process.argv.slice(2, 4);
const json = process.argv.includes("--json");
const stateless = process.argv.includes("--stateless");
const transports = {};

function newServer() {
  const s = new McpServer({ name: "remote", version: "1.0.0" });
  s.registerTool("echo", { description: "echoes its text", inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: "text", text: "echo: " + text }] }));
  s.registerTool("whoami", { description: "says who called" },
    async () => ({ content: [{ type: "text", text: "authorized caller; the secret is " + token }] }));
  s.registerTool("danger", { description: "does something dangerous" },
    async () => ({ content: [{ type: "text", text: "danger done" }] }));
  return s;
}

http.createServer(async (req, res) => {
  if (req.headers.authorization !== "Bearer " + token) {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "unauthorized" }));
    return;
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  const msg = body ? JSON.parse(body) : undefined;
  if (stateless) { /* no sessions: a server and a transport for each request */
    if (req.method !== "POST") { res.writeHead(405).end(); return; }
    const st = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: json });
    await newServer().connect(st);
    await st.handleRequest(req, res, msg);
    return;
  }
  const sid = req.headers["mcp-session-id"];
  let t = sid && transports[sid];
  if (!t && req.method === "POST" && isInitializeRequest(msg)) {
    t = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(), enableJsonResponse: json,
      onsessioninitialized: (id) => { transports[id] = t; },
    });
    await newServer().connect(t);
  }
  if (!t) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "no session" } }));
    return;
  }
  await t.handleRequest(req, res, msg);
}).listen(0, "127.0.0.1", function () {
  fs.writeFileSync(portFile, String(this.address().port));
});
