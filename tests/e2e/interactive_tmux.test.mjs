// e2e 4: interactive, as a person would use it. tmux runs `anyclaude --mode
// openai --backend ... --claude <bin>` in a fresh HOME; we wait for the
// prompt box, type "say hi", wait for the scripted answer, then /exit and
// check that anyclaude (and its gateway) is gone. No first-run, API-key,
// trust or login screen may appear at any point.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedBackend } from '../lib/scripted_backend.mjs';
import { BIN, CLAUDE, GREETING, makeSandbox, missingPrereq, greetingScenario, report, sleep, canConnect, e2eScope } from '../lib/claude_code.mjs';
import { tmuxOn, killTmuxServer, missingTmux, watchPane, promptBox, q } from '../lib/tmux.mjs';

const SOCKET = `anyclaude-e2e-${process.pid}`;
const SESSION = 'e2e';
// only our private tmux server (-L SOCKET) goes, before the cleanups
const { cleanups } = e2eScope({ beforeCleanup: () => killTmuxServer(SOCKET) });
let tmuxEnv = process.env;

const tmux = tmuxOn(SOCKET, () => tmuxEnv);

const FORBIDDEN = [
  /API key/i,
  /Do you trust/i,
  /Choose the text style/i,
  /Select login method/i,
  /Log ?in with/i,
  /Claude account with subscription/i,
  /Anthropic Console account/i,
  /Press Enter to continue/i,
];

test('interactive: prompt box, "say hi", scripted answer, /exit', { timeout: 240_000 }, async (t) => {
  const missing = missingPrereq() ?? missingTmux();
  if (missing) return t.skip(missing);
  const sb = makeSandbox('tmux');
  const be = await startScriptedBackend({ scenario: greetingScenario() });
  cleanups.push(() => be.close());
  const exitFile = path.join(sb.root, 'anyclaude.exit');
  const finalFile = path.join(sb.root, 'final-screen.txt');
  const allFile = path.join(sb.root, 'all-screens.txt');
  tmuxEnv = sb.env; // the tmux server, and so the pane, get the sandbox environment

  const cmd =
    `${q(BIN)} --mode openai --backend ${q(be.url)} --claude ${q(CLAUDE)} --debug 1; ` +
    `echo $? > ${q(exitFile)}; exec sleep 600`;
  const t0 = Date.now();
  tmux('new-session', '-d', '-s', SESSION, '-x', '200', '-y', '50', '-c', sb.work, cmd);

  const captures = [];
  const pane = watchPane(tmux, SESSION, {
    exitFile,
    onNew: (screen) => {
      captures.push({ ms: Date.now() - t0, screen });
      const bad = FORBIDDEN.find((re) => re.test(screen));
      if (bad) assert.fail(`a screen at +${Date.now() - t0} ms matched ${bad}:\n${screen}`);
    },
  });
  const capture = () => pane.capture();
  const waitFor = (pred, ms) => pane.waitFor(pred, ms);
  const early = () =>
    fs.existsSync(exitFile) ? ` (anyclaude already exited with status ${fs.readFileSync(exitFile, 'utf8').trim()})` : '';

  const steps = {};
  try {
    assert.ok(await waitFor(promptBox, 90_000), `the prompt box did not appear within 90 s${early()}`);
    steps.prompt = Date.now() - t0;
    await sleep(500);
    tmux('send-keys', '-t', SESSION, '-l', 'say hi');
    assert.ok(await waitFor((s) => /❯\s+say hi/.test(s), 10_000), `the typed prompt did not show in the box${early()}`);
    tmux('send-keys', '-t', SESSION, 'Enter');
    assert.ok(
      await waitFor((s) => s.includes(GREETING), 90_000),
      `the backend's answer "${GREETING}" did not appear within 90 s${early()}`,
    );
    steps.answer = Date.now() - t0;
    assert.ok(await waitFor(promptBox, 20_000), `the prompt box did not come back after the answer${early()}`);

    // Quit like a person: /exit, and C-c C-c if that does not do it.
    tmux('send-keys', '-t', SESSION, '-l', '/exit');
    await sleep(500);
    tmux('send-keys', '-t', SESSION, 'Enter');
    let gone = await waitFor(() => fs.existsSync(exitFile), 20_000);
    if (!gone) {
      steps.needed_ctrl_c = true;
      tmux('send-keys', '-t', SESSION, 'C-c');
      await sleep(300);
      tmux('send-keys', '-t', SESSION, 'C-c');
      gone = await waitFor(() => fs.existsSync(exitFile), 20_000);
    }
    assert.ok(gone, 'anyclaude did not exit after /exit and C-c C-c');
    steps.exit = Date.now() - t0;
    const code = fs.readFileSync(exitFile, 'utf8').trim();
    assert.equal(code, '0', `anyclaude exited with status ${code}`);

    // The gateway went with it.
    const m = /gateway on http:\/\/127\.0\.0\.1:(\d+)/.exec(sb.log());
    assert.ok(m, 'no "gateway on" line in anyclaude.log');
    assert.equal(await canConnect(Number(m[1])), false, `the gateway still listens on ${m[1]} after exit`);

    const main = be.chat().filter((r) => r.scripted);
    assert.equal(main.length, 1, 'expected exactly one main-loop request for "say hi"');
  } catch (e) {
    fs.writeFileSync(finalFile, capture());
    fs.writeFileSync(allFile, captures.map((c) => `==== +${c.ms} ms\n${c.screen}`).join('\n'));
    console.error(
      `\n===== failure context (kept in ${sb.root}) =====\n` +
        `--- final screen (${finalFile}) ---\n${pane.screen}\n` +
        `--- ${captures.length} distinct screens in ${allFile}\n` +
        `${report(be, { 'anyclaude.log': sb.log() })}\n===== end of failure context =====`,
    );
    throw e;
  }
  fs.writeFileSync(finalFile, pane.screen);
  fs.writeFileSync(allFile, captures.map((c) => `==== +${c.ms} ms\n${c.screen}`).join('\n'));
  t.diagnostic(`timeline (ms): ${JSON.stringify(steps)}; ${captures.length} distinct screens`);
  for (const line of be.summary().split('\n')) t.diagnostic(`backend got ${line}`);
  await sb.cleanup();
});
