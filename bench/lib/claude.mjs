// claude: running the real `claude` binary offline against a local Anthropic
// server (bench/cache records its traffic, bench/overhead captures one request).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function claudeVersion(claude) {
  const out = execFileSync(claude, ['--version'], { encoding: 'utf8', timeout: 30000, env: { ...process.env, DISABLE_AUTOUPDATER: '1' } });
  return out.trim().split(/\s+/)[0];
}

// A fresh HOME (onboarding done, the project trusted) and project dir under
// root. project: more keys for the project's entry in ~/.claude.json.
export function claudeHome(root, project = {}) {
  const home = path.join(root, 'home');
  const work = path.join(root, 'project');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(
    path.join(home, '.claude.json'),
    JSON.stringify({ hasCompletedOnboarding: true, projects: { [work]: { hasTrustDialogAccepted: true, ...project } } }, null, 2),
  );
  return { home, work };
}

// claude's environment with that HOME, talking to baseUrl only: no inherited
// ANTHROPIC_/CLAUDE_/ANYCLAUDE_ settings, XDG dirs inside HOME, no
// nonessential traffic, no autoupdate.
export function claudeEnv(home, baseUrl) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(ANTHROPIC_|CLAUDE_|ANYCLAUDE_)/.test(k)) delete env[k];
  return Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ANTHROPIC_AUTH_TOKEN: 'bench-token',
    ANTHROPIC_BASE_URL: baseUrl,
  });
}
