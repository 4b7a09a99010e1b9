import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiObject, ObjectKind } from '../client/index.js';
import type { CliContext } from './cli-context.js';
import { type TemplateSource, UsageError } from './cli-error.js';
import { templateText } from './show-view.js';

/** A template file's text, or stdin's for `-`. */
export async function readTemplateArg(ctx: CliContext, file: string): Promise<TemplateSource> {
  if (file === '-') return { label: '<stdin>', text: await ctx.io.readStdin() };
  try {
    return { label: file, text: await readFile(file, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(err));
    throw new UsageError(`cannot read template file ${file}: ${why}`);
  }
}

/**
 * `update ID` without a file: the current template in native syntax opens in
 * the editor. Returns the edited text, or undefined when nothing changed.
 */
export async function editTemplate(
  ctx: CliContext,
  kind: ObjectKind,
  obj: ApiObject,
): Promise<TemplateSource | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'oneedge-edit-'));
  const file = join(dir, `${kind}-${obj.id}.tpl`);
  try {
    const before = templateText(obj.template);
    await writeFile(file, before, { mode: 0o600 });
    const status = await ctx.io.edit(ctx.config.editor, file);
    if (status !== 0)
      throw new UsageError(`editor '${ctx.config.editor}' exited with status ${status}; nothing changed`);
    const after = await readFile(file, 'utf8');
    return after === before ? undefined : { label: `${kind}-${obj.id}.tpl`, text: after };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
