import { type Command, Option } from 'commander';
import { stringify } from 'yaml';

export type OutputFormat = 'human' | 'json' | 'yaml';

/** Adds `--json` and `--yaml` (mutually exclusive) to a command that prints data. */
export function withOutputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--json', 'print JSON').conflicts('yaml'))
    .addOption(new Option('--yaml', 'print YAML').conflicts('json'));
}

export function outputFormat(opts: { json?: boolean; yaml?: boolean }): OutputFormat {
  if (opts.json) return 'json';
  if (opts.yaml) return 'yaml';
  return 'human';
}

/** Data as machine-readable text: indented JSON, or YAML of the same structure. */
export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  return stringify(data, { lineWidth: 0 });
}
