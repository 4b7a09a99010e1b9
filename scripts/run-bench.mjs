#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.bench.js) one after another and
// prints what each measures. Usage: node scripts/run-bench.mjs [name-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'bench');
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
const cpu = cpus()[0]?.model ?? 'unknown cpu';
process.stdout.write(
  `machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${new Date().toISOString()}\n`,
);
// Benchmarks run server code in-process: give them the daemons' node flags (bin/oneedge's first line).
const shebang = readFileSync(join(root, 'bin', 'oneedge'), 'utf8').split('\n', 1)[0];
const nodeFlags = shebang.split(' ').filter((word) => word.startsWith('--'));
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n## ${f.replace('.bench.js', '')}\n`);
  const r = spawnSync(process.execPath, [...nodeFlags, join(dir, f)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
