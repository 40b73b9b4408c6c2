// table: aligned Markdown tables (readable in a terminal and in the README),
// and the results file each benchmark writes.

import fs from 'node:fs';
import path from 'node:path';

export function mdTable(header, rows, align = []) {
  const cells = [header, ...rows].map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const w = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const pad = (s, i) => (align[i] === 'r' ? s.padStart(w[i]) : s.padEnd(w[i]));
  const line = (r) => `| ${r.map(pad).join(' | ')} |`;
  const sep = `| ${w.map((n, i) => (align[i] === 'r' ? '-'.repeat(n - 1) + ':' : '-'.repeat(n))).join(' | ')} |`;
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

export const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
export const ms = (x) => (x === null || x === undefined ? 'n/a' : `${Math.round(x)}`);
export const sec = (x) => (x === null || x === undefined ? 'n/a' : `${(x / 1000).toFixed(2)} s`);

// Write a benchmark's report to ROOT/bench/results/KIND-<date>.md.
export function writeResults(root, kind, date, text, log) {
  const dir = path.join(root, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const md = path.join(dir, `${kind}-${date.toISOString().slice(0, 10)}.md`);
  fs.writeFileSync(md, text);
  log(`bench: wrote ${path.relative(root, md)}`);
}
