// `make install` as a user would use it: install into a fresh PREFIX, then
// from another directory (the user's project) run the installed anyclaude
// from PATH: --version, doctor, and a real Claude Code -p session against a
// scripted backend. `make uninstall` removes exactly the files install put
// there; DESTDIR stages an install under another root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, CLAUDE, missingPrereq, explainFailure, e2eScope } from '../lib/claude_code.mjs';

const { children, cleanups, sandbox, backend } = e2eScope();

// Every file (and symlink) under dir, relative, sorted.
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

function make(...args) {
  return execFileSync('make', ['-s', '-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('make install PREFIX=<tmp>: the installed anyclaude works from a project directory; make uninstall removes it', { timeout: 240_000 }, async (t) => {
  const sb = sandbox(t, 'install');
  if (!sb) return;
  const prefix = path.join(sb.root, 'prefix');
  // something of the user's already there, which uninstall must leave alone
  fs.mkdirSync(path.join(prefix, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(prefix, 'bin', 'other-tool'), '#!/bin/sh\n', { mode: 0o755 });

  make('install', `PREFIX=${prefix}`);
  const installed = filesUnder(prefix);
  assert.deepEqual(installed, ['bin/anyclaude', 'bin/other-tool', 'share/man/man1/anyclaude.1']);
  const st = fs.statSync(path.join(prefix, 'bin', 'anyclaude'));
  assert.equal(st.mode & 0o777, 0o755);

  // the user's shell: the prefix's bin and Claude Code on PATH, in the project
  const env = { ...sb.env, PATH: `${path.join(prefix, 'bin')}:${path.dirname(CLAUDE)}:${process.env.PATH}` };
  const project = sb.work;
  const v = await children.run('anyclaude', ['--version'], { cwd: project, env, timeoutMs: 10_000 });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^anyclaude \d+\.\d+\.\d+\n$/);

  const be = await backend({ models: ['local-coder'] });
  const d = await children.run('anyclaude', ['doctor', '--mode', 'openai', '--backend', be.url], { cwd: project, env, timeoutMs: 60_000 });
  const dout = `${d.stdout}\n${d.stderr}`;
  assert.equal(d.code, 0, dout);
  assert.match(dout, new RegExp(`\\[ ok \\] claude: ${CLAUDE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(2\\.1\\.\\d+`), dout);
  assert.match(dout, /doctor: all checks passed/, dout);

  const r = await children.run('anyclaude', ['--mode', 'openai', '--backend', be.url, '-p', 'Say OK.', '--output-format', 'json'], {
    cwd: project,
    env,
    timeoutMs: 120_000,
  });
  await explainFailure(
    async () => {
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.is_error, false);
      assert.match(out.result, /OK\./);
      // Claude Code worked in the project directory, not in the checkout
      const chat = be.chat();
      assert.ok(chat.length >= 1, 'the session reached the backend');
      assert.ok(JSON.stringify(chat.at(-1).body).includes(project), 'the prompt names the project directory');
      assert.ok(!JSON.stringify(chat.at(-1).body).includes(`${ROOT}/`), 'the prompt does not name the anyclaude checkout');
    },
    () => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- log ---\n${sb.log()}`,
  );

  make('uninstall', `PREFIX=${prefix}`);
  assert.deepEqual(filesUnder(prefix), ['bin/other-tool'], 'uninstall removed exactly what install put there');
});

test('make install DESTDIR=<root> stages under the root; uninstall with the same DESTDIR empties it', { timeout: 120_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-destdir-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  make('install', `DESTDIR=${root}`, 'PREFIX=/usr/local');
  assert.deepEqual(filesUnder(root), ['usr/local/bin/anyclaude', 'usr/local/share/man/man1/anyclaude.1']);
  const v = execFileSync(path.join(root, 'usr/local/bin/anyclaude'), ['--version'], { encoding: 'utf8' });
  assert.match(v, /^anyclaude \d+\.\d+\.\d+$/m);
  make('uninstall', `DESTDIR=${root}`, 'PREFIX=/usr/local');
  assert.deepEqual(filesUnder(root), []);
});
