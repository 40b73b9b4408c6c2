// scripts/install-claude.sh in a clean HOME and prefix: it installs the
// native binary of the platform package (@anthropic-ai/claude-code-linux-x64
// here) at the version it announces, whatever Node this machine runs (the
// main package wants Node >= 22; npm install -g on Node 20 picks 2.1.197).
// npm is pointed at the machine's own npm cache and kept offline, so the
// pinned 2.1.328 that scripts/deps.sh cached for the e2e suite is reused
// (a ~370 MB binary). An existing claude is never replaced without asking:
// refused without a terminal, "n" on a terminal keeps it, --force replaces.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, missingPrereq, e2eScope } from '../lib/claude_code.mjs';

const SCRIPT = path.join(ROOT, 'scripts', 'install-claude.sh');
const PINNED = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'package.json'), 'utf8')).dependencies['@anthropic-ai/claude-code'];
const PLATFORM = `@anthropic-ai/claude-code-${process.platform}-${process.arch === 'x64' ? 'x64' : process.arch}`;
const CACHED_BIN = path.join(ROOT, 'tests', 'node_modules', PLATFORM, 'claude');

const { children, cleanups } = e2eScope();

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function sandbox() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-install-claude-')));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const home = path.join(root, 'home');
  fs.mkdirSync(home);
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: root,
    // the machine's npm cache (the clean HOME has none), offline: only what is cached
    npm_config_cache: execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim(),
    npm_config_offline: 'true',
  };
  if (process.env.PATH) env.PATH = `${path.dirname(process.execPath)}:${env.PATH}`;
  return { root, home, prefix: path.join(root, 'prefix'), env };
}

test('install-claude.sh installs the platform binary of the version it announces; never replaces a claude unasked', { timeout: 300_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const mainPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'node_modules', '@anthropic-ai', 'claude-code', 'package.json'), 'utf8'));
  t.diagnostic(`node ${process.version}; @anthropic-ai/claude-code@${PINNED} wants node ${mainPkg.engines?.node}`);
  const sb = sandbox();
  const bin = path.join(sb.prefix, 'bin', 'claude');

  // someone else's claude is already there
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const theirs = '#!/bin/sh\necho "1.0.0 (Claude Code)"\n';
  fs.writeFileSync(bin, theirs, { mode: 0o755 });

  // no terminal: refused, untouched
  let r = await children.run('bash', [SCRIPT, '--prefix', sb.prefix, '--version', PINNED], { env: sb.env, timeoutMs: 60_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /exists \(1\.0\.0 \(Claude Code\)\); not replacing it without a terminal to ask on\. Pass --force/);
  assert.equal(fs.readFileSync(bin, 'utf8'), theirs);

  // a terminal, answered "n": kept
  const hasScript = (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (hasScript) {
    const cmd = `bash ${SCRIPT} --prefix ${sb.prefix} --version ${PINNED}`;
    r = await children.run('script', ['-qec', cmd, '/dev/null'], { env: sb.env, input: 'n\n', timeoutMs: 60_000 });
    assert.match(r.stdout, /exists \(1\.0\.0 \(Claude Code\)\)\. Replace it with Claude Code 2\.1\.\d+\? \[y\/N\]/, r.stdout);
    assert.match(r.stdout, /left .* as it is/, r.stdout);
    assert.equal(fs.readFileSync(bin, 'utf8'), theirs);
  } else {
    t.diagnostic('script(1) missing: the terminal prompt was not exercised');
  }

  // --force: installed, the version it announced, the platform package's binary
  r = await children.run('bash', [SCRIPT, '--prefix', sb.prefix, '--version', PINNED, '--force'], { env: sb.env, timeoutMs: 240_000 });
  if (r.code !== 0 && /npm pack .* failed/.test(r.stderr)) {
    // npm's cache lost the package (a fresh machine whose test packages came
    // from ~/.cache/anyclaude): fetch it from the registry this once
    t.diagnostic('not in npm\'s cache: fetching from the registry');
    const online = { ...sb.env };
    delete online.npm_config_offline;
    r = await children.run('bash', [SCRIPT, '--prefix', sb.prefix, '--version', PINNED, '--force'], { env: online, timeoutMs: 240_000 });
  }
  assert.equal(r.code, 0, r.stderr);
  const announced = r.stderr.match(/Claude Code (\d+\.\d+\.\d+) for [a-z0-9-]+(?: \(musl\))?: (@anthropic-ai\/[a-z0-9-]+)@(\d+\.\d+\.\d+)/);
  assert.ok(announced, r.stderr);
  assert.equal(announced[1], PINNED);
  assert.equal(announced[2], PLATFORM);
  assert.equal(r.stdout.trim(), PINNED);
  assert.match(r.stderr, /installed Claude Code \d+\.\d+\.\d+ \(sha512-[A-Za-z0-9+/=]+\)/);
  const target = fs.readlinkSync(bin);
  assert.equal(target, path.join(sb.prefix, 'lib', 'claude-code', PINNED, 'claude'));
  const v = execFileSync(bin, ['--version'], { encoding: 'utf8', env: { ...sb.env, DISABLE_AUTOUPDATER: '1' } });
  assert.equal(v.trim(), `${announced[1]} (Claude Code)`);
  assert.equal(sha256(target), sha256(CACHED_BIN), 'the installed file is the platform package\'s binary');
  assert.ok(!fs.existsSync(path.join(sb.home, '.npm')), 'npm used the machine cache, not a new one');

  // again: nothing to do
  r = await children.run('bash', [SCRIPT, '--prefix', sb.prefix, '--version', PINNED], { env: sb.env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /is already installed/);
});

test('install-claude.sh --dry-run names the current release for this platform (registry permitting)', { timeout: 60_000 }, async (t) => {
  const missing = missingPrereq();
  if (missing) return t.skip(missing);
  const sb = sandbox();
  const env = { ...sb.env };
  delete env.npm_config_offline;
  const r = await children.run('bash', [SCRIPT, '--dry-run'], { env, timeoutMs: 45_000 });
  if (r.code !== 0 && /cannot ask the npm registry/.test(r.stderr)) return t.skip('the npm registry does not answer here');
  assert.equal(r.code, 0, r.stderr);
  const m = r.stdout.trim().match(/^(@anthropic-ai\/claude-code-[a-z0-9-]+)@(\d+)\.(\d+)\.(\d+)$/);
  assert.ok(m, r.stdout);
  assert.equal(m[1], PLATFORM);
  // newer than what npm install -g gives Node 20 (2.1.197), and than the pinned test version
  const [maj, min, pat] = PINNED.split('.').map(Number);
  const got = [Number(m[2]), Number(m[3]), Number(m[4])];
  assert.ok(got[0] > maj || (got[0] === maj && (got[1] > min || (got[1] === min && got[2] >= pat))), `${r.stdout} older than ${PINNED}`);
  t.diagnostic(`current: ${r.stdout.trim()} (node ${process.version})`);
});
