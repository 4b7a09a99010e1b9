/**
 * Template parse throughput: the ~7 KB realistic VM template in native syntax,
 * and the same content as YAML and as JSON.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/template-parse.bench.js
 *
 * Each format is warmed up for 0.5 s, then parsed repeatedly for ~2 s.
 * KB and MB are decimal (1 KB = 1,000 bytes of UTF-8). Prints figures only;
 * there are no assertions on speed (the machine decides those).
 */
import { VM_TEMPLATE_FIXTURE } from '../src/core/template/fixtures/vm-template.js';
import type { ParsedTemplate, TemplateFormat } from '../src/core/template/index.js';
import { parseJson, parseNative, parseYaml, serializeTemplate } from '../src/core/template/index.js';

const WARM_UP_MS = 500;
const MEASURE_MS = 2000;

interface Result {
  format: TemplateFormat;
  bytes: number;
  parsesPerSecond: number;
  mbPerSecond: number;
}

function run(format: TemplateFormat, text: string, parse: (text: string) => ParsedTemplate): Result {
  let sink = 0;
  const loop = (ms: number): { count: number; elapsed: number } => {
    const start = performance.now();
    let count = 0;
    let now = start;
    while (now - start < ms) {
      // Check the clock every few parses so that timing stays out of the measurement.
      for (let i = 0; i < 16; i++) sink += parse(text).positions.size;
      count += 16;
      now = performance.now();
    }
    return { count, elapsed: (now - start) / 1000 };
  };
  loop(WARM_UP_MS);
  const { count, elapsed } = loop(MEASURE_MS);
  if (sink === 0) throw new Error('parser produced no positions');
  const bytes = Buffer.byteLength(text, 'utf8');
  return { format, bytes, parsesPerSecond: count / elapsed, mbPerSecond: (count * bytes) / elapsed / 1e6 };
}

function line(r: Result): string {
  const kb = (r.bytes / 1000).toFixed(1);
  const parses = Math.round(r.parsesPerSecond).toLocaleString('en-US');
  return `template-parse ${r.format} ${kb} KB: ${r.mbPerSecond.toFixed(1)} MB/s (${parses} parses/s)`;
}

const { template } = parseNative(VM_TEMPLATE_FIXTURE);
const results = [
  run('native', VM_TEMPLATE_FIXTURE, parseNative),
  run('yaml', serializeTemplate(template, 'yaml'), parseYaml),
  run('json', serializeTemplate(template, 'json'), parseJson),
];
for (const r of results) console.log(line(r));
const [native, yaml, json] = results as [Result, Result, Result];
console.log(
  `template-parse native/yaml: ${(native.parsesPerSecond / yaml.parsesPerSecond).toFixed(1)}x parses/s, ` +
    `native/json: ${(native.parsesPerSecond / json.parsesPerSecond).toFixed(1)}x parses/s (same content)`,
);
