// e2e: an MCP tool through tool search, with the real Claude Code
// interactive in tmux and an MCP server (tests/lib/mcp_server.mjs) that
// answers late, as real ones often do. Claude Code sends MCP tools as
// deferred (defer_loading, with a DeferredToolPlaceholder), and the model
// loads one with ToolSearch, whose result is a tool_reference
// (README, "MCP tools and tool search"). Through anyclaude in openai mode
// the scripted model asks ToolSearch for the tool, then calls it. Checked
// on what the backend got:
//   - no request declares the placeholder, nor the tool before it is loaded;
//   - ToolSearch's result is the tool's definition as text;
//   - the request that loads it declares the tool after all the others, so
//     the tools before it are byte for byte those of the request before;
//   - the call runs: the MCP server's answer comes back as the tool result.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedBackend, userTexts, toolMessages, textOf } from '../lib/scripted_backend.mjs';
import { BIN, CLAUDE, ROOT, makeSandbox, missingPrereq, report, e2eScope } from '../lib/claude_code.mjs';
import { killTmuxServer, missingTmux, startTyped } from '../lib/tmux.mjs';

const sockets = [];
const { cleanups } = e2eScope({ beforeCleanup: () => sockets.forEach(killTmuxServer) });

const PROMPT = 'use the echo tool';
const TOOL = 'mcp__e2e__echo_text';
const DONE = 'The echo came back.';

test('an MCP tool loaded through ToolSearch: declared once loaded, after the rest; its definition in the result; its call runs', { timeout: 180_000 }, async (t) => {
  const missing = missingPrereq() ?? missingTmux();
  if (missing) return t.skip(missing);
  const be = await startScriptedBackend({
    scenario: (body) => {
      if (!userTexts(body).some((x) => x.includes(PROMPT))) return undefined;
      const n = toolMessages(body).length;
      if (n === 0) return { toolCalls: [{ name: 'ToolSearch', arguments: { query: `select:${TOOL}` } }] };
      if (n === 1) return { toolCalls: [{ name: TOOL, arguments: { text: 'ping 42' } }] };
      return { text: DONE };
    },
  });
  cleanups.push(() => be.close());
  const sb = makeSandbox('mcp');
  cleanups.push(() => sb.cleanup());
  fs.writeFileSync(path.join(sb.work, '.mcp.json'), JSON.stringify({ mcpServers: { e2e: { command: process.execPath, args: [path.join(ROOT, 'tests/lib/mcp_server.mjs')], env: { MCP_DELAY_MS: '2000' } } } }));
  const cj = path.join(sb.home, '.claude.json');
  const j = JSON.parse(fs.readFileSync(cj, 'utf8'));
  Object.assign(j.projects[sb.work], { enabledMcpjsonServers: ['e2e'], hasCompletedProjectOnboarding: true });
  fs.writeFileSync(cj, JSON.stringify(j, null, 2));

  let s = null;
  const chats = () => be.requests.filter((r) => r.path === '/v1/chat/completions' && r.scripted);
  try {
    // The tool is allowed by name: auto mode would otherwise check the
    // call, which a local model cannot (automode_claude_code.test.mjs).
    const argv = [BIN, '--mode', 'openai', '--backend', be.url, '--claude', CLAUDE, '--allowedTools', TOOL];
    s = await startTyped({ name: 'mcp', sb, argv, prompt: PROMPT, sockets });
    assert.ok(await s.pane.waitFor((x) => x.includes(DONE), 60_000), 'the answer after the MCP call did not appear');
    const [first, second, third] = chats();
    assert.ok(first && second && third, `expected three scripted requests, got ${chats().length}`);
    const names = (r) => (r.body.tools ?? []).map((x) => x.function?.name);
    for (const r of be.requests.filter((x) => x.path === '/v1/chat/completions'))
      assert.ok(!names(r).includes('DeferredToolPlaceholder'), `the placeholder reached the backend: ${names(r)}`);
    assert.ok(!names(first).includes(TOOL), 'the tool was declared before it was loaded');
    assert.equal(names(second).at(-1), TOOL, `the loaded tool is declared last: ${names(second)}`);
    const before = JSON.stringify(first.body.tools);
    assert.equal(JSON.stringify(second.body.tools).slice(0, before.length - 1), before.slice(0, -1), 'the tools before the loaded one changed');
    const searched = textOf(toolMessages(second.body)[0].content);
    assert.match(searched, new RegExp(`^<functions><function>\\{"description":"Echo a text back","name":"${TOOL}","parameters":\\{`), searched);
    assert.match(textOf(toolMessages(third.body)[1].content), /echo: ping 42/, 'the MCP server did not answer the call');
  } catch (e) {
    console.error(`\n===== mcp: failure context (kept in ${sb.root}) =====\n--- screen ---\n${s?.pane.screen ?? ''}\n${report(be, { 'anyclaude.log': sb.log() })}`);
    throw e;
  }
});
