// record: runs the real `claude` binary against the recorder (recorder.mjs)
// and saves what it sent. Two sessions in one fresh project:
//   A: claude -p "BENCH-A ..." --allowedTools Write,Bash,Read,Agent,Task
//      (6 main-loop turns with tool calls and a subagent between turns 5 and 6)
//   B: a second claude -p "BENCH-B ..." in the same directory (a new session).
// The result is cached as JSON under $ANYCLAUDE_CACHE/bench-recordings/,
// keyed by claude's version and a hash of this script, the recorder and
// ../lib/claude.mjs (claude's home and environment), and
// re-recorded when missing (or with BENCH_RERECORD=1).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeEnv, claudeHome, claudeVersion } from '../lib/claude.mjs';
import { startRecorder } from './recorder.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function scriptHash() {
  const h = crypto.createHash('sha256');
  for (const f of ['record.mjs', 'recorder.mjs', '../lib/claude.mjs']) h.update(fs.readFileSync(path.join(HERE, f)));
  return h.digest('hex').slice(0, 10);
}

function runClaude(claude, args, { cwd, env, timeoutMs, children }) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(claude, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), ms: Date.now() - t0 });
    });
  });
}

// Returns { file, recording, fresh }.
export async function loadOrRecord({ claude, cacheDir, children, log = console.error, force = false }) {
  const version = claudeVersion(claude);
  const dir = path.join(cacheDir, 'bench-recordings');
  const file = path.join(dir, `claude-${version}-${scriptHash()}.json`);
  if (!force && fs.existsSync(file)) return { file, recording: JSON.parse(fs.readFileSync(file, 'utf8')), fresh: false };

  log(`bench: recording Claude Code ${version} traffic (${path.basename(file)})`);
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'anyclaude-bench-rec-')));
  const { home, work } = claudeHome(root, { allowedTools: [] });
  const rec = await startRecorder({ workDir: work });
  const env = claudeEnv(home, rec.url);
  const tools = 'Write,Bash,Read,Agent,Task';
  const runs = [];
  try {
    const marks = [];
    const a = await runClaude(
      claude,
      ['-p', 'BENCH-A: create notes.txt, show it, read it back, count its lines, and ask a subagent to summarize it.', '--allowedTools', tools, '--output-format', 'json'],
      { cwd: work, env, timeoutMs: 180000, children },
    );
    marks.push({ session: 'A', from: 0, to: rec.requests.length });
    runs.push({ session: 'A', code: a.code, ms: a.ms, stdout: a.stdout.slice(-2000), stderr: a.stderr.slice(-2000) });
    const nA = rec.requests.length;
    const b = await runClaude(
      claude,
      ['-p', 'BENCH-B: what does notes.txt contain?', '--allowedTools', tools, '--output-format', 'json'],
      { cwd: work, env, timeoutMs: 120000, children },
    );
    marks.push({ session: 'B', from: nA, to: rec.requests.length });
    runs.push({ session: 'B', code: b.code, ms: b.ms, stdout: b.stdout.slice(-2000), stderr: b.stderr.slice(-2000) });
    for (const m of marks) for (let i = m.from; i < m.to; i++) rec.requests[i].run = m.session;
  } finally {
    await rec.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  for (const r of runs)
    if (r.code !== 0) log(`bench: claude run ${r.session} exited ${r.code}: ${r.stderr || r.stdout}`);
  const recording = { claudeVersion: version, recordedAt: new Date().toISOString(), workDir: work, runs, requests: rec.requests };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file + '.tmp', JSON.stringify(recording));
  fs.renameSync(file + '.tmp', file);
  return { file, recording, fresh: true };
}

// What bench/cache and bench/pool start with: claude and the gateway must
// exist; then the recording, reused or made (BENCH_RERECORD=1 forces it).
export async function recordingFor({ claude, gateway, cacheDir, children, log }) {
  if (!fs.existsSync(claude)) throw new Error(`${claude} missing: run bash scripts/deps.sh`);
  if (!fs.existsSync(gateway)) throw new Error(`${gateway} missing: run make`);
  const r = await loadOrRecord({ claude, cacheDir, children, log, force: process.env.BENCH_RERECORD === '1' });
  log(`bench: recording ${r.fresh ? 'made' : 'reused'}: ${r.file}`);
  return r;
}
