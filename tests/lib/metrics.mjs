// metrics: reading Prometheus text (no dependencies; bench/ uses it too).

// llama-server's counters (`llamacpp:NAME VALUE` lines of its --metrics
// endpoint) by NAME.
export function llamaCounters(text) {
  const m = {};
  for (const line of text.split('\n')) {
    const x = /^llamacpp:(\w+)\s+([-0-9.e+]+)/.exec(line);
    if (x) m[x[1]] = Number(x[2]);
  }
  return m;
}
