// paced_backend: the bench backend (backend.mjs) streaming like a model
// generating, for bench/token-latency. Each stream: a role chunk, then
// TOKENS chunks GAP ms apart, each one's content the CLOCK_MONOTONIC time
// (process.hrtime.bigint(), ns, the same clock in every process on the
// machine) taken just before its write, followed by "|"; then a stop chunk,
// usage and [DONE].
//
//   node paced_backend.mjs --port P [--tokens 50] [--gap 20]   (prints "listening P")

import { makeBackend } from './backend.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TOKENS = arg('--tokens', 50);
const GAP = arg('--gap', 20);

const id = 'chatcmpl-paced';
const event = (obj) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model: 'm', ...obj })}\n\n`;
const chunk = (delta, finish = null) => event({ choices: [{ index: 0, delta, finish_reason: finish }] });

function paced(res) {
  res.write(chunk({ role: 'assistant', content: '' }));
  let n = 0;
  const next = () => {
    if (res.destroyed) return;
    if (n++ < TOKENS) {
      res.write(chunk({ content: `${process.hrtime.bigint()}|` }));
      setTimeout(next, GAP);
      return;
    }
    res.write(chunk({}, 'stop'));
    res.write(event({ choices: [], usage: { prompt_tokens: 10, completion_tokens: TOKENS, total_tokens: 10 + TOKENS } }));
    res.end('data: [DONE]\n\n');
  };
  setTimeout(next, GAP);
}

const server = makeBackend({ stream: paced });
server.listen(arg('--port', 0), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
