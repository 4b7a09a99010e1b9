import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { ApiObject, OneEdgeClient } from '../client/index.js';
import { formatMegabytes, imageShortState } from './cell-format.js';
import type { CliContext } from './cli-context.js';
import { UsageError, withSource } from './cli-error.js';
import { forEachId, resolveOne } from './id-refs.js';
import { withOutputOptions } from './output.js';
import { emit, registerPoolVerbs, templateFormat } from './pool-verbs.js';
import type { Column } from './table.js';
import { readTemplateArg } from './template-source.js';

export const IMAGE_COLUMNS: Column<ApiObject<'image'>>[] = [
  { header: 'ID', cell: (i) => String(i.id), align: 'right' },
  { header: 'USER', cell: (i) => i.uname },
  { header: 'GROUP', cell: (i) => i.gname },
  { header: 'NAME', cell: (i) => i.name },
  { header: 'DATASTORE', cell: (i) => String(i.datastore_id), align: 'right' },
  { header: 'SIZE', cell: (i) => formatMegabytes(i.size_mb), align: 'right' },
  { header: 'TYPE', cell: (i) => (i.type ?? '').toLowerCase().slice(0, 2) },
  { header: 'PER', cell: (i) => (i.persistent ? 'Yes' : 'No') },
  { header: 'STAT', cell: (i) => imageShortState(i) },
  { header: 'RVMS', cell: (i) => String(i.running_vms?.length ?? 0), align: 'right' },
];

type OutputOpts = { json?: boolean; yaml?: boolean };
interface CreateOpts extends OutputOpts {
  name?: string;
  path?: string;
  type?: string;
  persistent?: boolean;
  size?: string;
  fs?: string;
  format?: string;
  templateFormat?: string;
  sha256?: string;
  datastore?: string;
  description?: string;
  wait?: boolean;
}

function quote(v: string): string {
  return `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** A progress bar on stderr: `[#####.....]  52%  104/200 MB  48.1 MB/s`. */
export function progressLine(done: number, total: number, startedMs: number, nowMs: number): string {
  const width = 30;
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * width);
  const mb = (n: number) => (n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0);
  const secs = Math.max(0.001, (nowMs - startedMs) / 1000);
  const rate = done / 1048576 / secs;
  const pct = total > 0 ? `${Math.floor(frac * 100)}%`.padStart(4) : '   ?';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}  ${mb(done)}/${total > 0 ? mb(total) : '?'} MB  ${rate.toFixed(1)} MB/s`;
}

async function uploadWithProgress(ctx: CliContext, one: OneEdgeClient, id: number, file: string, sha?: string) {
  const size = (await stat(file)).size;
  const started = ctx.io.now();
  let done = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = ctx.io.now();
    if (!force && now - lastDraw < 200) return;
    lastDraw = now;
    ctx.err(`\r${progressLine(done, size, started, now)}`);
  };
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      done += chunk.byteLength;
      draw();
      controller.enqueue(chunk);
    },
  });
  const body = (Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>).pipeThrough(counting);
  try {
    return await one.uploadImage(id, body, { size, ...(sha ? { sha256: sha } : {}) });
  } finally {
    draw(true);
    ctx.err('\n');
  }
}

/** Polls an image in LOCKED (import, mkfs, clone) and draws its progress until it settles. */
export async function waitReady(ctx: CliContext, one: OneEdgeClient, id: number): Promise<ApiObject<'image'>> {
  const started = ctx.io.now();
  for (;;) {
    const img = await one.get('image', id);
    if (img.state !== 'LOCKED') {
      if (img.operation === undefined || img.operation === null) ctx.err('\n');
      if (img.state === 'ERROR') throw new UsageError(`image ${id} failed: ${img.error ?? 'unknown error'}`);
      return img;
    }
    const op = img.operation;
    if (op) ctx.err(`\r${op.kind}: ${progressLine(op.done_bytes, op.total_bytes, started, ctx.io.now())}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function registerCreate(noun: Command, ctx: CliContext): void {
  withOutputOptions(
    noun
      .command('create')
      .description(
        'create an image: upload a local file (--path FILE, with a progress bar), import an http(s) URL ' +
          '(--path URL [--sha256 H]), an empty datablock (--size MB [--fs ext4]), or from a template file',
      ),
  )
    .argument('[file]', 'image template (OpenNebula syntax, YAML or JSON); - reads stdin')
    .option('--name <name>', 'image name')
    .option('--path <file-or-url>', 'local file to upload, or http(s) URL the front-end imports')
    .option('--type <type>', 'OS, CDROM, DATABLOCK, KERNEL, RAMDISK or CONTEXT')
    .option('--persistent', 'persistent image (one VM at a time, changes are kept)')
    .option('--size <mb>', 'size of an empty datablock, MB')
    .option('--fs <fs>', 'filesystem of an empty datablock: ext4, ext3, ext2, vfat, swap, raw')
    .option('--format <format>', 'raw, qcow2, rootfs-tar or iso (default: detected)')
    .option('--template-format <format>', 'syntax of FILE: native, yaml, json or auto')
    .option('--sha256 <hex>', 'expected sha256 of the content (upload or import); refused when different')
    .option('--description <text>', 'DESCRIPTION attribute')
    .option('-d, --datastore <datastore>', 'image datastore id or name (default 1)')
    .option('--no-wait', 'return at once instead of waiting for an import or datablock to be ready')
    .action(async (file: string | undefined, opts: CreateOpts) => {
      const isUrl = opts.path !== undefined && /^[a-z][a-z0-9+.-]*:/i.test(opts.path);
      const upload = opts.path !== undefined && !isUrl ? opts.path : undefined;
      if (upload !== undefined) {
        const s = await stat(upload).catch(() => undefined);
        if (!s?.isFile()) throw new UsageError(`--path ${upload}: no such file`);
      }
      const lines: string[] = [];
      if (opts.name) lines.push(`NAME = ${quote(opts.name)}`);
      if (opts.type) lines.push(`TYPE = ${quote(opts.type.toUpperCase())}`);
      if (opts.persistent) lines.push('PERSISTENT = "YES"');
      if (opts.size) lines.push(`SIZE = ${quote(opts.size)}`);
      if (opts.fs) lines.push(`FS = ${quote(opts.fs)}`);
      if (opts.format) lines.push(`FORMAT = ${quote(opts.format)}`);
      if (opts.description) lines.push(`DESCRIPTION = ${quote(opts.description)}`);
      if (isUrl && opts.path) lines.push(`PATH = ${quote(opts.path)}`);
      if (isUrl && opts.sha256) lines.push(`SHA256 = ${quote(opts.sha256)}`);
      if (file === undefined && !opts.name) throw new UsageError('give a template FILE or --name');
      const source =
        file !== undefined ? await readTemplateArg(ctx, file) : { label: '<options>', text: `${lines.join('\n')}\n` };
      const format = file !== undefined ? templateFormat(opts.templateFormat) : 'native';
      await ctx.withClient(async (one) => {
        const dsId =
          typeof opts.datastore === 'string' ? await resolveOne(one, 'datastore', opts.datastore) : undefined;
        let text = source.text;
        if (file !== undefined && lines.length > 0)
          text = `${text}\n${lines.filter((l) => !l.startsWith('NAME')).join('\n')}\n`;
        let obj = await withSource(source, () =>
          one.create('image', {
            template: text,
            format,
            ...(file !== undefined && opts.name ? { name: opts.name } : {}),
            ...(dsId !== undefined ? { datastore_id: dsId } : {}),
          }),
        );
        if (upload !== undefined) obj = await uploadWithProgress(ctx, one, obj.id, upload, opts.sha256);
        else if (obj.state === 'LOCKED' && opts.wait !== false) obj = await waitReady(ctx, one, obj.id);
        emit(ctx, opts, [obj], () => `ID: ${obj.id}\n`);
      });
    });
}

export function registerImage(program: Command, ctx: CliContext): void {
  const noun = registerPoolVerbs(program, ctx, {
    kind: 'image',
    summary: 'images (oneimage)',
    columns: IMAGE_COLUMNS,
    createFromFile: false,
    chown: true,
    hasState: true,
  });
  registerCreate(noun, ctx);

  withOutputOptions(noun.command('upload').description('upload the content of an image in INIT or ERROR'))
    .argument('<id>', 'image id or name')
    .argument('<file>', 'local file')
    .option('--sha256 <hex>', 'expected sha256')
    .action(async (ref: string, file: string, opts: OutputOpts & { sha256?: string }) =>
      ctx.withClient(async (one) => {
        const obj = await uploadWithProgress(ctx, one, await resolveOne(one, 'image', ref), file, opts.sha256);
        emit(ctx, opts, [obj]);
      }),
    );

  withOutputOptions(noun.command('clone').description('clone an image into a new one'))
    .argument('<id>', 'image id or name')
    .argument('<name>', 'name of the new image')
    .option('-d, --datastore <datastore>', 'target image datastore (default: the same)')
    .option('--no-wait', 'do not wait for the copy')
    .action(async (ref: string, name: string, opts: OutputOpts & { datastore?: string; wait?: boolean }) =>
      ctx.withClient(async (one) => {
        const ds = opts.datastore ? await resolveOne(one, 'datastore', opts.datastore) : undefined;
        let obj = await one.cloneImage(await resolveOne(one, 'image', ref), name, ds);
        if (opts.wait !== false) obj = await waitReady(ctx, one, obj.id);
        emit(ctx, opts, [obj], () => `ID: ${obj.id}\n`);
      }),
    );

  const actions = [
    ['persistent', 'make images persistent'],
    ['nonpersistent', 'make images non-persistent'],
    ['enable', 'enable images (DISABLED → READY)'],
    ['disable', 'disable images (READY → DISABLED)'],
  ] as const;
  for (const [action, help] of actions) {
    withOutputOptions(noun.command(action).description(help))
      .argument('<ids>', 'id, name, or list like 1,2,5..7')
      .action(async (ref: string, opts: OutputOpts) =>
        ctx.withClient(async (one) => {
          const done = await forEachId(ctx, one, 'image', ref, (id) => one.imageAction(id, action));
          emit(ctx, opts, done);
        }),
      );
  }

  withOutputOptions(noun.command('wait').description('wait until an import, datablock or clone is finished'))
    .argument('<id>', 'image id or name')
    .action(async (ref: string, opts: OutputOpts) =>
      ctx.withClient(async (one) => {
        const obj = await waitReady(ctx, one, await resolveOne(one, 'image', ref));
        emit(ctx, opts, [obj]);
      }),
    );
}
