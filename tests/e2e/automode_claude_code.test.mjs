// e2e: auto mode's server-side safety check, with the real Claude Code
// interactive in tmux (auto mode is its default permission mode).
//
// In auto mode Claude Code asks the API to check risky actions: each
// main-loop request carries a `safeguards` field and the
// `dangerous-tool-use-...` beta, and the API's verdict comes back in the
// stream's message_delta as `safeguard_results`. What anyclaude must do:
//
//   1. `--mode claude`: pass the check through both ways. The scripted API
//      (HTTPS, self-signed CA) answers "run the check" with a Bash call
//      that writes a file and pipes a download into sh, and a verdict for
//      it: not_flagged -> the command runs with no question; flagged ->
//      Claude Code blocks it. The API got the field and the beta header.
//   2. `--mode openai` (a local model): nothing there can run the check,
//      and nothing may pretend to. Claude Code shows its notice that the
//      check is not getting through, then asks before the action; the
//      backend never sees `safeguards`, and no classifier request (Claude
//      Code's own check, a ~140k-character prompt) is sent to the model.
//      (README, Troubleshooting: "Auto mode can't check actions".)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAnthropicBackend, sseBytes, sseEvent, apiError } from '../lib/anthropic_backend.mjs';
import { startScriptedBackend, toolNames, userTexts, toolMessages } from '../lib/scripted_backend.mjs';
import { makeSelfSignedCert } from '../lib/tls.mjs';
import { BIN, CLAUDE, makeSandbox, missingPrereq, report, e2eScope } from '../lib/claude_code.mjs';
import { killTmuxServer, missingTmux, startTyped } from '../lib/tmux.mjs';

// One private tmux server per session: a server keeps the environment it
// started with, and each session needs its own sandbox's HOME.
const sockets = [];
const { cleanups } = e2eScope({ beforeCleanup: () => sockets.forEach(killTmuxServer) });

const PROMPT = 'run the check';
const MARK = 'passed.txt';
// Writes MARK, then something auto mode must check (a download piped into
// sh; port 9 refuses, so it fetches nothing).
const COMMAND = `echo checked > ${MARK} && curl -s http://127.0.0.1:9/x | sh`;
const TOOL_ID = 'toolu_01AutoModeCheckE2e000000';
const AFTER = 'All done here.';
const NOTICE = /Auto mode can.t check actions/;

let tlsCache = null;
const tls = () => (tlsCache ??= makeSelfSignedCert());

const askedToCheck = (rec) => JSON.stringify(rec.json?.messages ?? []).includes(PROMPT);
const hasToolResult = (rec) => JSON.stringify(rec.json?.messages ?? []).includes('"tool_result"');

// The scripted Claude API: the first main-loop request gets the Bash call
// with `verdict` for it; every other request a short text.
function apiScript(verdict) {
  return (rec) => {
    if (rec.method !== 'POST' || rec.path !== '/v1/messages') return apiError(404, 'not_found_error', 'nothing scripted');
    const model = rec.json?.model ?? 'claude-sonnet-4-6';
    const start = sseEvent('message_start', {
      type: 'message_start',
      message: { id: 'msg_auto', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
    });
    const stop = sseEvent('message_stop', { type: 'message_stop' });
    if (askedToCheck(rec) && !hasToolResult(rec)) {
      const results = [{ type: 'dangerous_tool_use', status: { type: 'available', tool_uses: { [TOOL_ID]: { type: 'evaluated', outcome: verdict } } } }];
      return sseBytes([
        start,
        sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: TOOL_ID, name: 'Bash', input: {} } }),
        sseEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify({ command: COMMAND, description: 'Write a file and run a downloaded script' }) },
        }),
        sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
        sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null, safeguard_results: results }, usage: { output_tokens: 20 } }),
        stop,
      ]);
    }
    return sseBytes([
      start,
      sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: AFTER } }),
      sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
      sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }),
      stop,
    ]);
  };
}

// anyclaude ARGS in a tmux pane in a fresh sandbox; types PROMPT once the
// prompt box shows. Returns { sb, pane, session, tmux, fail(e, extra) }.
async function startSession(name, args, env = {}) {
  const sb = makeSandbox(name);
  let s = { pane: { screen: '' }, screens: [] };
  const fail = (e, extra) => {
    fs.writeFileSync(path.join(sb.root, 'all-screens.txt'), s.screens.join('\n====\n'));
    console.error(`\n===== ${name}: failure context (kept in ${sb.root}) =====\n--- final screen ---\n${s.pane.screen}\n${extra}\n--- anyclaude.log ---\n${sb.log().slice(-4000)}`);
    throw e;
  };
  try {
    s = await startTyped({ name, sb, argv: [BIN, ...args, '--claude', CLAUDE], env, prompt: PROMPT, sockets });
  } catch (e) {
    fail(e, '');
  }
  return { ...s, sb, fail };
}

for (const verdict of ['not_flagged', 'flagged']) {
  test(`claude mode: the API's safety verdict (${verdict}) passes through and decides`, { timeout: 180_000 }, async (t) => {
    const missing = missingPrereq() ?? missingTmux();
    if (missing) return t.skip(missing);
    const be = await startAnthropicBackend(apiScript(verdict), { tls: tls() });
    cleanups.push(() => be.close());
    const name = `auto-${verdict}`;
    const s = await startSession(name, ['--mode', 'claude', '--backend', be.url, '--ca-file', tls().caFile], { ANTHROPIC_AUTH_TOKEN: 'e2e-token' });
    cleanups.push(() => s.sb.cleanup());
    const mark = path.join(s.sb.work, MARK);
    const upstream = () => be.requests.map((r) => `${r.method} ${r.path} beta=${r.headers['anthropic-beta'] ?? '-'} safeguards=${JSON.stringify(r.json?.safeguards ?? null).slice(0, 120)}`).join('\n');
    try {
      assert.ok(await s.pane.waitFor((x) => x.includes(AFTER), 60_000), `the answer after the tool call did not appear`);
      const main = be.requests.find((r) => askedToCheck(r) && !hasToolResult(r));
      assert.ok(main, 'the main-loop request never reached the API');
      assert.match(String(main.headers['anthropic-beta']), /dangerous-tool-use-/, 'the beta header did not reach the API');
      assert.equal(main.json?.safeguards?.[0]?.type, 'dangerous_tool_use', 'the safeguards field did not reach the API');
      assert.doesNotMatch(s.pane.screen, NOTICE, 'Claude Code said the check is not getting through');
      assert.doesNotMatch(s.pane.screen, /Do you want to proceed/, 'Claude Code asked instead of using the verdict');
      if (verdict === 'not_flagged') {
        assert.equal(fs.existsSync(mark) && fs.readFileSync(mark, 'utf8').trim(), 'checked', 'the allowed command did not run');
      } else {
        assert.match(s.pane.screen, /Blocked by auto mode/, 'the flagged command was not blocked');
        assert.equal(fs.existsSync(mark), false, 'the flagged command ran');
      }
    } catch (e) {
      s.fail(e, `--- upstream ---\n${upstream()}`);
    }
  });
}

test('openai mode: the check cannot run on a local model; Claude Code asks, and the model gets no classifier request', { timeout: 180_000 }, async (t) => {
  const missing = missingPrereq() ?? missingTmux();
  if (missing) return t.skip(missing);
  const be = await startScriptedBackend({
    scenario: (body) => {
      if (!toolNames(body).includes('Bash') || !userTexts(body).some((x) => x.includes(PROMPT))) return undefined;
      if (toolMessages(body).length === 0) return { toolCalls: [{ name: 'Bash', arguments: { command: COMMAND, description: 'Write a file and run a downloaded script' } }] };
      return { text: AFTER };
    },
  });
  cleanups.push(() => be.close());
  const s = await startSession('auto-local', ['--mode', 'openai', '--backend', be.url]);
  cleanups.push(() => s.sb.cleanup());
  const mark = path.join(s.sb.work, MARK);
  try {
    assert.ok(await s.pane.waitFor((x) => NOTICE.test(x), 60_000), "Claude Code's notice did not appear");
    assert.equal(fs.existsSync(mark), false, 'the command ran before anyone approved it');
    s.pane.capture();
    s.tmux('send-keys', '-t', s.session, 'Enter'); // stay in auto mode
    assert.ok(await s.pane.waitFor((x) => /Do you want to proceed/.test(x), 30_000), 'Claude Code did not ask before the action');
    s.tmux('send-keys', '-t', s.session, 'Down');
    await new Promise((r) => setTimeout(r, 300));
    s.tmux('send-keys', '-t', s.session, 'Enter'); // Yes
    assert.ok(await s.pane.waitFor((x) => x.includes(AFTER), 60_000), 'the answer after the approved call did not appear');
    assert.equal(fs.readFileSync(mark, 'utf8').trim(), 'checked', 'the approved command did not run');
    const chats = be.requests.filter((r) => r.path === '/v1/chat/completions');
    for (const r of chats) {
      assert.equal(r.body?.safeguards, undefined, 'safeguards reached the local backend');
      const sys = JSON.stringify((r.body?.messages ?? []).filter((m) => m.role === 'system'));
      assert.doesNotMatch(sys, /security monitor/i, 'a classifier request reached the local model');
    }
    assert.equal(chats.filter((r) => r.scripted).length, 2, 'expected the tool call and the answer after it');
  } catch (e) {
    s.fail(e, report(be));
  }
});
