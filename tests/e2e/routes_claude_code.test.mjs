// e2e: routes (docs/routing.md, "Routes") with the real Claude Code. The
// launcher runs claude against a config whose routes send each request class
// to a different scripted OpenAI backend, so the classes are exercised by what
// Claude Code really sends:
//
//   1. background: a Haiku model (`--model claude-haiku-4-5`, `--model haiku`,
//      ANTHROPIC_MODEL=claude-haiku-4-5-20251001) goes to "small" as
//      small-model; Claude Code's default model goes to "main" as main-model.
//   2. fallback: a default route whose only target is on a closed port falls
//      back to "main"; claude -p still prints main's answer and the
//      launcher's log says "falling back to main".
//   3. subagent: main answers the first turn with a call to Claude Code's
//      Agent tool; the subagent's requests (x-claude-code-agent-id) go to
//      "sub" as sub-model, its answer comes back to main as the tool result,
//      and main's next turn finishes.
//
// Each backend answers a distinct text, so claude's output shows who
// answered. The backends never see Claude Code's headers, so claude is
// started through a small wrapper (--claude) that points it at a recording
// proxy in front of the gateway (--port): the proxy shows each request as
// Claude Code sent it (model, headers) and the `anyclaude-backend` header of
// the answer that says which backend served it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { toolNames, userTexts, assistantToolCalls, toolMessages, textOf } from '../lib/scripted_backend.mjs';
import {
  BIN, CLAUDE, makeSandbox, missingPrereq, explainFailure, freePort, canConnect, report,
  startRecordingProxy, e2eScope,
} from '../lib/claude_code.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

const AGENT_ID = 'x-claude-code-agent-id';

// --- a recording proxy between Claude Code and the gateway ---------------------------

// The shared recording proxy, with what these tests read from it.
async function startRecorder(targetPort) {
  const proxy = await startRecordingProxy(targetPort);
  cleanups.push(() => proxy.close());
  const { seen } = proxy;
  return {
    ...proxy,
    // Claude Code's Messages requests (count_tokens and the rest left out)
    messages: () => seen.filter((r) => r.method === 'POST' && r.url.split('?')[0] === '/v1/messages'),
    summary: () =>
      seen
        .map(
          (r) =>
            `${r.method} ${r.url} -> ${r.status} served-by=${r.resHeaders['anyclaude-backend'] ?? '-'} ` +
            `model=${r.body?.model} msgs=${r.body?.messages?.length ?? '-'} tools=${r.body?.tools?.length ?? 0} ` +
            `${AGENT_ID}=${r.headers[AGENT_ID] ?? '-'} x-claude-code-*=[${Object.keys(r.headers)
              .filter((h) => h.startsWith('x-claude-code-'))
              .join(',')}]`,
        )
        .join('\n'),
  };
}

// --- running claude through the launcher with a routes config ------------------------

// A scripted backend playing `scenario`, closed after the file.
const scripted = (scenario) => backend({ scenario });

// Run `anyclaude --config CFG --claude WRAPPER --port P --debug 1 ARGS` in a
// fresh sandbox; the wrapper sends claude to the recorder, which forwards to
// the gateway's port.
async function runRouted(name, config, args, { env = {} } = {}) {
  const sb = makeSandbox(`routes-${name}`);
  cleanups.push(() => sb.cleanup());
  // No retries: a failed request fails the run at once instead of being
  // retried (with backoff) into a success or the timeout.
  Object.assign(sb.env, { CLAUDE_CODE_MAX_RETRIES: '0' }, env);
  const gatewayPort = await freePort();
  const rec = await startRecorder(gatewayPort);
  const wrapper = path.join(sb.root, 'claude-via-recorder');
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh\nANTHROPIC_BASE_URL=http://127.0.0.1:${rec.port}\nexport ANTHROPIC_BASE_URL\nexec ${JSON.stringify(CLAUDE)} "$@"\n`,
    { mode: 0o755 },
  );
  const cfgPath = path.join(sb.root, 'anyclaude.json');
  fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  const argv = ['--config', cfgPath, '--claude', wrapper, '--port', String(gatewayPort), '--debug', '1', ...args];
  const r = await children.run(BIN, argv, { cwd: sb.work, env: sb.env, timeoutMs: 60_000 });
  return { sb, rec, r, cfgPath };
}

function context(run, backends) {
  const parts = [];
  for (const [n, be] of Object.entries(backends)) parts.push(`=== backend ${n} ===`, report(be));
  parts.push('=== what claude sent (recorder) ===', run.rec.summary());
  parts.push('=== claude stdout ===', run.r.stdout, '=== stderr ===', run.r.stderr.slice(-4000));
  parts.push('=== anyclaude.log ===', run.sb.log().slice(-8000));
  return parts.join('\n');
}

function checkExit(run) {
  assert.equal(run.r.timedOut, false, 'anyclaude did not finish within 60 s');
  assert.equal(run.r.code, 0, `anyclaude exited ${run.r.code} (signal ${run.r.signal})`);
}

const saysHi = (body) => toolNames(body).length > 0 && userTexts(body).some((t) => /say hi/i.test(t));

// Two scripted backends: requests of class `when` go to `name` (model
// NAME-model), the rest to main (main-model).
function twoRoutes(main, when, name, other) {
  return {
    backends: {
      main: { mode: 'openai', url: main.url, model: 'main-model' },
      [name]: { mode: 'openai', url: other.url, model: `${name}-model` },
    },
    routes: [
      { when, to: `${name},${name}-model` },
      { when: 'default', to: 'main,main-model' },
    ],
  };
}

// --- 1. the background class, by the model Claude Code sends -------------------------

const MODEL_CASES = [
  { name: '--model claude-haiku-4-5', args: ['--model', 'claude-haiku-4-5'], to: 'small' },
  { name: '--model haiku', args: ['--model', 'haiku'], to: 'small' },
  { name: 'ANTHROPIC_MODEL=claude-haiku-4-5-20251001', args: [], env: { ANTHROPIC_MODEL: 'claude-haiku-4-5-20251001' }, to: 'small' },
  { name: "Claude Code's default model", args: [], to: 'main' },
];

test('routes: Haiku requests go to the background backend, the rest to the default', { timeout: 150_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);

  for (const c of MODEL_CASES) {
    // The main-loop request ("say hi", with tools) gets "from NAME"; anything
    // else Claude Code might send gets the backend's plain fallback text.
    const main = await scripted((b) => (saysHi(b) ? { text: 'from main' } : undefined));
    const small = await scripted((b) => (saysHi(b) ? { text: 'from small' } : undefined));
    const bes = { main, small };
    const config = twoRoutes(main, 'background', 'small', small);
    const run = await runRouted('model', config, ['-p', 'say hi', ...c.args], { env: c.env });
    const other = c.to === 'main' ? 'small' : 'main';

    await explainFailure(
      async () => {
        checkExit(run);
        assert.equal(run.r.stdout.trim(), `from ${c.to}`, `${c.name}: claude did not print ${c.to}'s answer`);

        // Claude Code's main-loop request reached the expected backend only,
        // with that route's model.
        const got = bes[c.to].chat().filter((q) => q.scripted);
        assert.equal(got.length, 1, `${c.name}: ${c.to} should get Claude Code's "say hi" request once`);
        assert.equal(got[0].body.model, `${c.to}-model`, `${c.name}: ${c.to} was sent the wrong model`);
        assert.equal(
          bes[other].chat().filter((q) => q.scripted).length,
          0,
          `${c.name}: ${other} got Claude Code's "say hi" request`,
        );
        for (const [n, be] of Object.entries(bes))
          for (const q of be.chat()) assert.equal(q.body.model, `${n}-model`, `${n} was sent model ${q.body.model}`);

        // What Claude Code sent: every Messages request naming a Haiku model
        // was served by small, every other one by main, and the backends got
        // exactly those requests.
        const msgs = run.rec.messages();
        const mainLoop = msgs.filter((q) => saysHi(q.body));
        assert.ok(mainLoop.length >= 1, `${c.name}: the recorder saw no "say hi" request from Claude Code`);
        const haiku = (q) => /haiku/i.test(String(q.body?.model));
        for (const q of mainLoop)
          assert.equal(haiku(q), c.to === 'small', `${c.name}: Claude Code sent model ${q.body?.model} for its main request`);
        for (const q of msgs) {
          assert.equal(q.status, 200, `${q.url}: status ${q.status}`);
          assert.equal(
            q.resHeaders['anyclaude-backend'],
            haiku(q) ? 'small' : 'main',
            `a request for model ${q.body?.model} was served by ${q.resHeaders['anyclaude-backend']}`,
          );
        }
        assert.equal(small.chat().length, msgs.filter(haiku).length, 'small did not get exactly the Haiku requests');
        assert.equal(main.chat().length, msgs.filter((q) => !haiku(q)).length, 'main did not get exactly the other requests');
      },
      () => context(run, bes),
    );
    for (const q of run.rec.messages())
      t.diagnostic(`${c.name}: claude sent model=${q.body?.model} thinking=${JSON.stringify(q.body?.thinking)} -> ${q.resHeaders['anyclaude-backend']}`);
  }
});

// --- 2. fallback from a dead backend ---------------------------------------------------

test('routes: a default route whose backend is down falls back, and claude -p still answers', { timeout: 120_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);

  const main = await scripted((b) => (saysHi(b) ? { text: 'from main' } : undefined));
  const deadPort = await freePort();
  assert.equal(await canConnect(deadPort), false, `port ${deadPort} should be closed`);
  const config = {
    backends: {
      dead: { mode: 'openai', url: `http://127.0.0.1:${deadPort}/v1`, model: 'dead-model' },
      main: { mode: 'openai', url: main.url, model: 'main-model' },
    },
    routes: [{ when: 'default', to: 'dead', fallback: ['main'] }],
  };
  const run = await runRouted('fallback', config, ['-p', 'say hi']);

  await explainFailure(
    async () => {
      checkExit(run);
      assert.equal(run.r.stdout.trim(), 'from main', "claude did not print main's answer");
      const got = main.chat().filter((q) => q.scripted);
      assert.equal(got.length, 1, 'main should get Claude Code\'s "say hi" request once');
      assert.equal(got[0].body.model, 'main-model', 'main was sent the wrong model');
      const msgs = run.rec.messages();
      assert.ok(msgs.length >= 1, 'the recorder saw no Messages request');
      for (const q of msgs) {
        assert.equal(q.status, 200, `${q.url}: status ${q.status}`);
        assert.equal(q.resHeaders['anyclaude-backend'], 'main', `a request was served by ${q.resHeaders['anyclaude-backend']}`);
      }
      assert.equal(main.chat().length, msgs.length, 'main did not get every request');
      const log = run.sb.log();
      assert.match(log, /request \S+: dead [^\n]*; falling back to main/, 'the log has no "dead ...; falling back to main" line');
      assert.doesNotMatch(log, /falling back to dead/, 'the gateway fell back to the dead backend');
    },
    () => context(run, { main }),
  );
  for (const l of run.sb.log().split('\n').filter((x) => /falling back/.test(x))) t.diagnostic(l);
});

// --- 3. the subagent class ---------------------------------------------------------------

const SUBTASK = 'SUBTASK-7f3c: reply with one short sentence';
const DELEGATE = 'delegate a greeting to an agent';

test("routes: a subagent's requests go to the subagent backend, the main loop's to main", { timeout: 120_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);

  const subTexts = (b) => userTexts(b).some((t) => t.includes(SUBTASK));
  // main: turn 1 calls the Agent tool (its name and schema checked below);
  // turn 2, given the subagent's report as the tool result, finishes.
  const main = await scripted((b) => {
    if (!userTexts(b).some((x) => x.includes(DELEGATE))) return undefined;
    const call = assistantToolCalls(b).find((c) => c.name === 'Agent');
    const result = call && toolMessages(b).find((m) => m.tool_call_id === call.id);
    if (result) return { text: textOf(result.content).includes('from sub') ? 'from main after sub' : 'from main: no report from sub' };
    return {
      toolCalls: [
        {
          name: 'Agent',
          arguments: { description: 'Say a greeting', prompt: SUBTASK, subagent_type: 'general-purpose', run_in_background: false },
        },
      ],
    };
  });
  const sub = await scripted((b) => (subTexts(b) ? { text: 'from sub' } : undefined));
  const bes = { main, sub };
  const config = twoRoutes(main, 'subagent', 'sub', sub);
  const run = await runRouted('subagent', config, ['-p', DELEGATE]);

  await explainFailure(
    async () => {
      checkExit(run);
      // Claude Code offers the subagent tool as "Agent" with these inputs.
      const first = main.chat()[0]?.body;
      const agentTool = first?.tools?.find((x) => x.function?.name === 'Agent');
      assert.ok(agentTool, `no Agent tool offered; tools: ${toolNames(first).join(',')}`);
      const props = agentTool.function.parameters?.properties ?? {};
      for (const k of ['description', 'prompt', 'subagent_type', 'run_in_background'])
        assert.ok(props[k], `the Agent tool has no ${k} parameter`);

      assert.equal(run.r.stdout.trim(), 'from main after sub', 'claude did not print main\'s final answer built on sub\'s report');

      // The backends: sub got the subagent's conversation, main never did.
      const subReqs = sub.chat();
      assert.ok(subReqs.length >= 1, 'sub got no request');
      assert.ok(subReqs.some((q) => q.scripted), 'sub never got the subagent prompt');
      for (const q of subReqs) assert.equal(q.body.model, 'sub-model', `sub was sent model ${q.body.model}`);
      const mainReqs = main.chat();
      assert.equal(mainReqs.filter((q) => q.scripted).length, 2, 'main should take exactly two scripted turns');
      for (const q of mainReqs) {
        assert.equal(q.body.model, 'main-model', `main was sent model ${q.body.model}`);
        assert.ok(!subTexts(q.body), 'main got a request whose user turn is the subagent prompt');
      }

      // What Claude Code sent: the subagent's requests carry the agent-id
      // header (one id) and were served by sub; the others lack it and were
      // served by main; the backends got exactly those.
      const msgs = run.rec.messages();
      const agentReqs = msgs.filter((q) => q.headers[AGENT_ID]);
      const mainLoopReqs = msgs.filter((q) => !q.headers[AGENT_ID]);
      assert.ok(agentReqs.length >= 1, `Claude Code sent no request with ${AGENT_ID}`);
      assert.equal(new Set(agentReqs.map((q) => q.headers[AGENT_ID])).size, 1, 'one subagent, yet several agent ids');
      for (const q of msgs) assert.equal(q.status, 200, `${q.url}: status ${q.status}`);
      for (const q of agentReqs) {
        assert.equal(q.resHeaders['anyclaude-backend'], 'sub', `a request with ${AGENT_ID} was served by ${q.resHeaders['anyclaude-backend']}`);
        assert.ok(subTexts(q.body), `a request with ${AGENT_ID} is not the subagent's conversation`);
      }
      for (const q of mainLoopReqs) {
        assert.equal(q.resHeaders['anyclaude-backend'], 'main', `a request without ${AGENT_ID} was served by ${q.resHeaders['anyclaude-backend']}`);
        assert.ok(!subTexts(q.body), `the subagent's conversation was sent without ${AGENT_ID}`);
      }
      assert.equal(subReqs.length, agentReqs.length, `sub did not get exactly the requests with ${AGENT_ID}`);
      assert.equal(mainReqs.length, mainLoopReqs.length, `main did not get exactly the requests without ${AGENT_ID}`);
    },
    () => context(run, bes),
  );
  for (const q of run.rec.messages()) {
    const xh = Object.keys(q.headers).filter((h) => h.startsWith('x-claude-code-') || h === 'anthropic-beta');
    t.diagnostic(
      `claude sent model=${q.body?.model} tools=${q.body?.tools?.length ?? 0} ${AGENT_ID}=${q.headers[AGENT_ID] ?? '-'} ` +
        `headers=[${xh.join(',')}] -> ${q.resHeaders['anyclaude-backend']}`,
    );
  }
});
