// mcp_server: a minimal MCP server over stdio (newline-delimited JSON-RPC),
// for the e2e tests that give Claude Code an MCP tool. It answers
// initialize after MCP_DELAY_MS (default 0: a slow server makes its tools
// arrive after Claude Code's first request, as real ones often do),
// tools/list with one tool, echo_text, and tools/call by echoing the text.
//
//   .mcp.json: {"mcpServers": {"NAME": {"command": "node", "args": ["tests/lib/mcp_server.mjs"]}}}

import readline from 'node:readline';

const delay = Number(process.env.MCP_DELAY_MS ?? 0);
const send = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const TOOL = {
  name: 'echo_text',
  description: 'Echo a text back',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
};

readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.method === 'initialize') {
    await new Promise((r) => setTimeout(r, delay));
    send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'e2e-mcp', version: '1.0.0' } } });
  } else if (m.method === 'tools/list') {
    send({ jsonrpc: '2.0', id: m.id, result: { tools: [TOOL] } });
  } else if (m.method === 'tools/call') {
    send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `echo: ${m.params?.arguments?.text ?? ''}` }] } });
  } else if (m.id !== undefined) {
    send({ jsonrpc: '2.0', id: m.id, result: {} });
  }
});
