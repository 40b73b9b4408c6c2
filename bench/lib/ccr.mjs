// ccr: claude-code-router 2.0.0 (bench/setup.sh installs it), the peer every
// bench measures beside anyclaude. `ccr start` runs the server in the
// foreground (it writes its pid to ~/.claude-code-router/.claude-code-router.pid;
// `ccr stop` just kills that pid), so it runs detached in its own process
// group with HOME = home, one provider at backendV1 (".../v1") serving model.
// Ready when GET /health answers. Resolves to
// { url, port, pid, isDead, stop, logFile, config }.

import fs from 'node:fs';
import path from 'node:path';
import { cleanEnv, startLogged, tail, waitHttp } from './procs.mjs';

export const ccrCli = (root) => path.join(root, 'bench/node_modules/@musistudio/claude-code-router/dist/cli.js');

export async function startCcr({ root, port, backendV1, home, logFile, model = 'local' }) {
  const cfgDir = path.join(home, '.claude-code-router');
  const tmp = path.join(home, 'tmp');
  fs.mkdirSync(cfgDir, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true });
  const config = {
    LOG: false,
    HOST: '127.0.0.1',
    PORT: port,
    API_TIMEOUT_MS: 600000,
    Providers: [{ name: 'backend', api_base_url: `${backendV1}/chat/completions`, api_key: 'bench', models: [model] }],
    Router: { default: `backend,${model}` },
  };
  fs.writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify(config, null, 2));
  const env = cleanEnv({ HOME: home, TMPDIR: tmp });
  const p = startLogged('ccr', process.execPath, [ccrCli(root), 'start'], { env, cwd: home, logFile });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitHttp(`${url}/health`, { timeoutMs: 30000, isDead: p.isDead }))) {
    p.stop();
    throw new Error(`ccr start did not come up on ${url}; log:\n${tail(logFile)}`);
  }
  return { url, port, pid: p.pid, isDead: p.isDead, stop: p.stop, logFile, config };
}
