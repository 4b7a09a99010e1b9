import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, truncate, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { PlanDisk } from '../../core/agent-protocol.js';
import { OneError } from '../../core/errors.js';
import { detectImageFormat, FORMAT_PROBE_BYTES, parseImageFormat } from '../../core/image-format.js';
import { IMAGE_STATES, type ImageBody, type ImageOperation, type PoolObject } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { getString } from '../../core/template/index.js';
import { LCM_STATES, VM_STATES } from '../../core/vm-states.js';
import type { Store } from '../../store/index.js';
import { planDisks } from '../agents/plan-disks.js';
import { stateName, usageState } from '../services/image-usage.js';
import { checkName, type ObjectService } from '../services/object-service.js';
import { opHostOf } from '../services/vm-service.js';
import { FsDatastores } from './fs-datastore.js';
import { checkUrlTarget, openCheckedUrl, parseImportUrl } from './url-fetch.js';

const run = promisify(execFile);
const MB = 1024 * 1024;
const CAPACITY_REFRESH_MS = 60_000;
/** Filesystems an empty DATABLOCK may be formatted with (mkfs.<fs>). */
export const DATABLOCK_FILESYSTEMS = ['ext4', 'ext3', 'ext2', 'vfat', 'raw', 'swap'] as const;

export interface ImageServiceOptions {
  /** Allow importing from loopback, private and link-local addresses (SSRF guard off). */
  allowInternalUrls: boolean;
}

/**
 * Image contents: streaming uploads, URL imports (as an operation with
 * progress), empty datablocks, clones, copy-back of persistent images from
 * hosts, and datastore capacity. Rows change through the store; the bytes
 * live in the `fs` datastore driver ({@link FsDatastores}).
 */
export class ImageService {
  readonly fs: FsDatastores;
  private readonly deleted = new Map<number, string>();
  private readonly ops = new Map<number, AbortController>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly capacityCache = new Map<number, string>();

  constructor(
    private readonly store: Store,
    private readonly objects: ObjectService,
    dataDir: string,
    private readonly log: Logger,
    private readonly options: ImageServiceOptions,
  ) {
    this.fs = new FsDatastores(dataDir);
  }

  /** Sweeps crash leftovers, fails operations a restart interrupted, starts the capacity refresher. */
  async start(): Promise<void> {
    for (const ds of await this.store.objects.list('datastore')) {
      if (ds.body.type !== 'SYSTEM') await this.fs.sweep(ds.id);
    }
    for (const img of await this.store.objects.list('image')) {
      if (img.state === IMAGE_STATES.LOCKED && !this.ops.has(img.id)) {
        await this.fail(img.id, 'the front-end restarted during the operation');
      }
    }
    this.unsubscribe = this.store.objects.onChange((e) => {
      if (e.kind === 'image' && e.op === 'create' && e.state === IMAGE_STATES.LOCKED) void this.runCreateOp(e.id);
      if (e.kind === 'image' && e.op === 'delete') void this.afterDelete(e.id);
      if (e.kind === 'datastore' && e.op === 'create') void this.refreshCapacity(e.id);
    });
    await this.refreshAll();
    this.timer = setInterval(() => void this.refreshAll(), CAPACITY_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    for (const c of this.ops.values()) c.abort();
  }

  // --- capacity -----------------------------------------------------------------------------

  async refreshAll(): Promise<void> {
    for (const ds of await this.store.objects.list('datastore')) await this.refreshCapacity(ds.id);
  }

  /** Writes the datastore's statfs figures to its row when they changed (by ≥ 1 MB). */
  async refreshCapacity(dsId: number): Promise<void> {
    try {
      const ds = await this.store.objects.get('datastore', dsId);
      if (!ds || ds.body.type === 'SYSTEM') return;
      const cap = await this.fs.capacity(dsId);
      const key = `${cap.total_mb}/${cap.free_mb}/${cap.used_mb}`;
      if (this.capacityCache.get(dsId) === key && ds.body.free_mb === cap.free_mb) return;
      this.capacityCache.set(dsId, key);
      if (ds.body.total_mb === cap.total_mb && ds.body.free_mb === cap.free_mb && ds.body.used_mb === cap.used_mb) {
        return;
      }
      await this.store.objects.update('datastore', dsId, undefined, (o) => ({ ...o, body: { ...o.body, ...cap } }));
    } catch (err) {
      this.log.warn({ dsId, err: String(err) }, 'datastore capacity refresh failed');
    }
  }

  /** Free bytes of the datastore that holds an image. */
  freeBytes(dsId: number): Promise<number> {
    return this.fs.freeBytes(dsId);
  }

  // --- uploads ------------------------------------------------------------------------------

  /**
   * `PUT /images/{id}/content`: streams the body into the image's datastore.
   * The declared length is checked against the free space before a byte is
   * read; the sha256 is computed while streaming. On any failure the image
   * goes to ERROR with the reason and no file is left.
   */
  async upload(
    who: Principal,
    id: number,
    body: Readable,
    contentLength: number | undefined,
    expectedSha256: string | undefined,
  ): Promise<PoolObject<'image'>> {
    const image = await this.objects.get(who, 'image', id, 'manage');
    if (image.state !== IMAGE_STATES.INIT && image.state !== IMAGE_STATES.ERROR) {
      throw new OneError(
        'E_IMAGE_STATE',
        `image ${id} is ${stateName(image.state)}: content can be uploaded only to a new image (INIT) or one in ERROR`,
        { id, state: stateName(image.state) },
      );
    }
    if (expectedSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(expectedSha256)) {
      throw new OneError('E_VALIDATION', 'the expected sha256 must be 64 hex digits', { field: 'x-content-sha256' });
    }
    const free = await this.fs.freeBytes(image.body.datastore_id);
    if (contentLength !== undefined && contentLength > free) {
      body.resume();
      throw new OneError(
        'E_DATASTORE_FULL',
        `upload of ${contentLength} bytes refused: datastore ${image.body.datastore_id} has ${free} bytes free`,
        { datastore_id: image.body.datastore_id, free_bytes: free, content_length: contentLength },
      );
    }
    await this.lock(id, { kind: 'upload', done_bytes: 0, total_bytes: contentLength ?? 0, started_at: Date.now() }, [
      IMAGE_STATES.INIT,
      IMAGE_STATES.ERROR,
    ]);
    return this.fill(id, 'upload', (signal, progress) =>
      this.fs.write(this.fs.imagePath(image.body.datastore_id, id), body, {
        maxBytes: Math.min(free, contentLength ?? free),
        expectedSha256,
        onProgress: progress,
        signal,
      }),
    );
  }

  // --- operations started by create ---------------------------------------------------------

  private async runCreateOp(id: number): Promise<void> {
    const image = await this.store.objects.get('image', id);
    if (!image || image.state !== IMAGE_STATES.LOCKED || this.ops.has(id)) return;
    const op = image.body.operation?.kind;
    const path = getString(image.template, 'PATH');
    try {
      if (op === 'import' && path) await this.importUrl(image, path);
      else if (op === 'mkfs') await this.mkfs(image);
      else if (op === 'clone' && image.body.cloning_id != null) await this.copyFrom(image, image.body.cloning_id);
    } catch {
      // fill()/fail() recorded the reason on the image
    }
  }

  private async importUrl(image: PoolObject<'image'>, raw: string): Promise<void> {
    const expected = getString(image.template, 'SHA256');
    await this.fill(image.id, 'import', async (signal, progress) => {
      const free = await this.fs.freeBytes(image.body.datastore_id);
      const { res } = await openCheckedUrl(raw, { allowInternal: this.options.allowInternalUrls }, signal);
      const length = Number(res.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(length)) {
        if (length > free) {
          res.destroy();
          throw new OneError('E_DATASTORE_FULL', `${raw} is ${length} bytes; the datastore has ${free} free`, {
            content_length: length,
            free_bytes: free,
          });
        }
        await this.setProgress(image.id, 0, length);
      }
      return this.fs.write(this.fs.imagePath(image.body.datastore_id, image.id), res, {
        maxBytes: free,
        expectedSha256: expected,
        onProgress: progress,
        signal,
      });
    });
  }

  /** An empty DATABLOCK: a sparse file of SIZE MB, formatted with FS (mkfs) or left raw; qcow2 via qemu-img. */
  private async mkfs(image: PoolObject<'image'>): Promise<void> {
    const t = image.template;
    const fsType = (getString(t, 'FS') ?? getString(t, 'FSTYPE') ?? 'raw').toLowerCase();
    const format = parseImageFormat(getString(t, 'FORMAT')) ?? 'raw';
    const sizeMb = image.body.size_mb;
    await this.fill(image.id, 'mkfs', async () => {
      const tmp = this.fs.tempPath(image.body.datastore_id);
      const final = this.fs.imagePath(image.body.datastore_id, image.id);
      try {
        if (format === 'qcow2') {
          await run('qemu-img', ['create', '-q', '-f', 'qcow2', tmp, `${sizeMb}M`]);
        } else {
          await writeFile(tmp, '', { mode: 0o600 });
          await truncate(tmp, sizeMb * MB);
          if (fsType === 'swap') await run('mkswap', [tmp]);
          else if (fsType !== 'raw') await run(`mkfs.${fsType}`, fsType === 'vfat' ? [tmp] : ['-q', '-F', tmp]);
        }
        await this.fs.commit(tmp, final);
      } catch (err) {
        await this.fs.remove(tmp);
        throw err instanceof OneError ? err : new OneError('E_IMPORT_FAILED', `creating the datablock failed: ${err}`);
      }
      return { path: final, ...(await hashFile(final)) };
    });
  }

  // --- clone ----------------------------------------------------------------------------------

  /** `oneimage clone`: a new image with a copy of the content (reflink where possible). */
  async clone(who: Principal, id: number, name: string, datastoreId: number | undefined): Promise<PoolObject<'image'>> {
    const created = await this.store.objects.transaction(async (tx) => {
      const src = await this.objects.mustGetTx(tx, who, 'image', id, 'use');
      const usable: number[] = [IMAGE_STATES.READY, IMAGE_STATES.USED, IMAGE_STATES.USED_PERS];
      if (!usable.includes(src.state) || !src.body.source) {
        throw new OneError('E_IMAGE_STATE', `image ${id} is ${stateName(src.state)} and cannot be cloned`, {
          id,
          state: stateName(src.state),
        });
      }
      const dsId = datastoreId ?? src.body.datastore_id;
      const ds = await tx.get('datastore', dsId);
      if (ds?.body.type !== 'IMAGE') {
        throw new OneError('E_VALIDATION', `datastore ${dsId} is not an image datastore`, { field: 'datastore_id' });
      }
      if (src.state === IMAGE_STATES.READY) {
        await tx.update('image', id, src.revision, (o) => ({ ...o, state: IMAGE_STATES.CLONE }));
      }
      const group = await tx.get('group', who.gid);
      const { PATH: _p, SHA256: _s, ...template } = src.template;
      return tx.create('image', {
        name,
        uid: who.uid,
        gid: who.gid,
        uname: who.name,
        gname: group?.name ?? '',
        perms: 0o600,
        state: IMAGE_STATES.LOCKED,
        lcmState: 0,
        template: { ...template, PERSISTENT: 'NO' },
        body: {
          ...src.body,
          datastore_id: dsId,
          persistent: false,
          source: '',
          running_vms: [],
          error: null,
          cloning_id: id,
          operation: { kind: 'clone', done_bytes: 0, total_bytes: src.body.size_bytes ?? 0, started_at: Date.now() },
        },
      });
    });
    return created;
  }

  private async copyFrom(image: PoolObject<'image'>, srcId: number): Promise<void> {
    try {
      await this.fill(image.id, 'clone', async () => {
        const src = await this.store.objects.get('image', srcId);
        if (!src?.body.source) throw new OneError('E_IMPORT_FAILED', `image ${srcId} disappeared during the clone`);
        const final = this.fs.imagePath(image.body.datastore_id, image.id);
        await this.fs.copy(src.body.source, final);
        return { path: final, ...(await hashFile(final)) };
      });
    } finally {
      await this.store.objects
        .update('image', srcId, undefined, (o) =>
          o.state === IMAGE_STATES.CLONE ? { ...o, state: usageState(o, o.body.running_vms) } : o,
        )
        .catch(() => undefined);
    }
  }

  // --- disk save-as --------------------------------------------------------------------------

  /**
   * `onevm disk-saveas`: a new image (LOCKED) filled by the VM's host with the
   * disk as it is now. `request` asks the host (the agent gateway); the
   * image becomes READY when the upload arrives, ERROR with the reason if not.
   */
  async saveAs(
    who: Principal,
    vmId: number,
    diskId: number,
    name: string,
    request: (hostId: number, imageId: number, disk: PlanDisk) => Promise<void>,
  ): Promise<PoolObject<'image'>> {
    const checkedName = checkName(name);
    // Plain reads, no transaction: planDisks reads through the store (one SQLite connection).
    const vm = await this.objects.get(who, 'vm', vmId, 'manage');
    const running = vm.state === VM_STATES.ACTIVE && vm.lcmState === LCM_STATES.RUNNING;
    const hostId = vm.body.host_id;
    if ((!running && vm.state !== VM_STATES.POWEROFF) || hostId === null) {
      throw new OneError('E_VM_ACTION_STATE', 'disk-saveas needs a RUNNING or POWEROFF VM on a host', {
        vm_id: vmId,
      });
    }
    const disk = (await planDisks(this.store, vm.template)).find((d) => d.diskId === diskId);
    if (!disk) throw new OneError('E_NOT_FOUND', `VM ${vmId} has no DISK ${diskId}`, { disk_id: diskId });
    const src = disk.imageId === null ? undefined : await this.store.objects.get('image', disk.imageId);
    const dsId = src?.body.datastore_id ?? 1;
    const group = await this.store.objects.get('group', who.gid);
    const type = disk.format === 'rootfs-tar' ? 'OS' : (src?.body.type ?? 'DATABLOCK');
    const image = await this.store.objects.create('image', {
      name: checkedName,
      uid: who.uid,
      gid: who.gid,
      uname: who.name,
      gname: group?.name ?? '',
      perms: 0o600,
      state: IMAGE_STATES.LOCKED,
      lcmState: 0,
      template: { TYPE: type, SAVED_FROM_VM: String(vmId), SAVED_FROM_DISK: String(diskId) },
      body: {
        type,
        datastore_id: dsId,
        persistent: false,
        format: disk.format,
        size_mb: Math.ceil(disk.sizeBytes / MB),
        source: '',
        sha256: null,
        running_vms: [],
        error: null,
        saved_from: { vm_id: vmId, disk_id: diskId },
        operation: { kind: 'save-as', done_bytes: 0, total_bytes: disk.sizeBytes, started_at: Date.now() },
      },
    });
    request(hostId, image.id, disk).catch((err: unknown) =>
      this.fail(image.id, err instanceof OneError ? `${err.code}: ${err.message}` : String(err)),
    );
    return image;
  }

  // --- state changes --------------------------------------------------------------------------

  async setPersistent(who: Principal, id: number, persistent: boolean): Promise<PoolObject<'image'>> {
    return this.store.objects.transaction(async (tx) => {
      const img = await this.objects.mustGetTx(tx, who, 'image', id, 'manage');
      if (img.body.running_vms.length > 0) {
        throw new OneError(
          'E_IMAGE_STATE',
          `image ${id} is used by VM(s) ${img.body.running_vms.join(', ')}; change persistence when no VM uses it`,
          { id, vms: img.body.running_vms },
        );
      }
      return tx.update('image', id, img.revision, (o) => ({
        ...o,
        template: { ...o.template, PERSISTENT: persistent ? 'YES' : 'NO' },
        body: { ...o.body, persistent },
      }));
    });
  }

  async setEnabled(who: Principal, id: number, enabled: boolean): Promise<PoolObject<'image'>> {
    return this.store.objects.transaction(async (tx) => {
      const img = await this.objects.mustGetTx(tx, who, 'image', id, 'manage');
      const from = enabled ? IMAGE_STATES.DISABLED : IMAGE_STATES.READY;
      if (img.state === (enabled ? IMAGE_STATES.READY : IMAGE_STATES.DISABLED)) return img;
      if (img.state !== from) {
        throw new OneError(
          'E_IMAGE_STATE',
          `image ${id} is ${stateName(img.state)}; only ${stateName(from)} images can be ${enabled ? 'enabled' : 'disabled'}`,
          { id, state: stateName(img.state) },
        );
      }
      return tx.update('image', id, img.revision, (o) => ({
        ...o,
        state: enabled ? IMAGE_STATES.READY : IMAGE_STATES.DISABLED,
      }));
    });
  }

  // --- hosts ----------------------------------------------------------------------------------

  /**
   * Copy-back of a persistent image at EPILOG: the host uploads the disk a VM
   * of its own used; the new content replaces the old one atomically.
   */
  async storeFromHost(
    hostId: number,
    imageId: number,
    body: Readable,
    contentLength: number | undefined,
    expectedSha256: string | undefined,
  ): Promise<{ sha256: string; bytes: number }> {
    const image = await this.store.objects.get('image', imageId);
    if (!image) throw new OneError('E_NOT_FOUND', `image ${imageId} does not exist`);
    if (image.state === IMAGE_STATES.LOCKED && image.body.operation?.kind === 'save-as' && image.body.saved_from) {
      const vm = await this.store.objects.get('vm', image.body.saved_from.vm_id);
      if (vm?.body.host_id !== hostId)
        throw new OneError('E_FORBIDDEN', `image ${imageId} is not saved from this host`);
      const stored = await this.fill(imageId, 'save-as', async (signal, progress) => {
        const free = await this.fs.freeBytes(image.body.datastore_id);
        if (contentLength !== undefined && contentLength > free) {
          throw new OneError('E_DATASTORE_FULL', `the saved disk (${contentLength} bytes) does not fit`);
        }
        return this.fs.write(this.fs.imagePath(image.body.datastore_id, imageId), body, {
          maxBytes: free,
          expectedSha256,
          onProgress: progress,
          signal,
        });
      });
      return { sha256: stored.body.sha256 ?? '', bytes: stored.body.size_bytes ?? 0 };
    }
    if (!image.body.persistent) {
      throw new OneError('E_IMAGE_STATE', `image ${imageId} is not persistent; nothing is copied back`);
    }
    const vms = await this.store.objects.list('vm', { hostId });
    // …or the host a cold migration is leaving copies back before the target stages the disk.
    const mine =
      vms.find((v) => image.body.running_vms.includes(v.id)) ?? (await this.movingFrom(hostId, image.body.running_vms));
    if (!mine) throw new OneError('E_FORBIDDEN', `no VM on host ${hostId} uses image ${imageId}`);
    const free = await this.fs.freeBytes(image.body.datastore_id);
    if (contentLength !== undefined && contentLength > free + (image.body.size_bytes ?? 0)) {
      throw new OneError('E_DATASTORE_FULL', `copy-back of ${contentLength} bytes does not fit`);
    }
    const stored = await this.fs.write(this.fs.imagePath(image.body.datastore_id, imageId), body, {
      maxBytes: free + (image.body.size_bytes ?? 0),
      expectedSha256,
    });
    await this.store.objects.update('image', imageId, undefined, (o) => ({
      ...o,
      body: {
        ...o.body,
        source: stored.path,
        sha256: stored.sha256,
        size_bytes: stored.bytes,
        size_mb: Math.max(1, Math.ceil(stored.bytes / MB)),
      },
    }));
    this.log.info({ imageId, hostId, vmId: mine.id, sha256: stored.sha256 }, 'persistent image copied back');
    void this.refreshCapacity(image.body.datastore_id);
    return { sha256: stored.sha256, bytes: stored.bytes };
  }

  /** The VM (of these) whose pending host operation runs on `hostId` as a migration's source. */
  private async movingFrom(hostId: number, vmIds: number[]): Promise<PoolObject<'vm'> | undefined> {
    for (const id of vmIds) {
      const vm = await this.store.objects.get('vm', id);
      if (vm && vm.body.host_id !== hostId && opHostOf(vm) === hostId) return vm;
    }
    return undefined;
  }

  // --- delete ---------------------------------------------------------------------------------

  /** Called inside the delete transaction: the file goes once the row is gone (after commit). */
  noteDelete(image: PoolObject<'image'>): void {
    if (image.body.source) this.deleted.set(image.id, image.body.source);
    this.ops.get(image.id)?.abort();
  }

  private async afterDelete(id: number): Promise<void> {
    const path = this.deleted.get(id);
    this.deleted.delete(id);
    if (!path) return;
    const img = await this.store.objects.list('image');
    // A path is only ever one image's, but never delete what another row still names.
    if (img.some((i) => i.body.source === path)) return;
    await this.fs.remove(path);
    for (const ds of await this.store.objects.list('datastore')) {
      if (path.startsWith(this.fs.dir(ds.id))) await this.refreshCapacity(ds.id);
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  /** LOCKED with an operation; a compare-and-set on the state, so two uploads cannot both start. */
  private async lock(id: number, operation: ImageOperation, from: number[]): Promise<void> {
    await this.store.objects.update('image', id, undefined, (o) => {
      if (!from.includes(o.state)) {
        throw new OneError('E_IMAGE_STATE', `image ${id} is ${stateName(o.state)}; another operation runs on it`, {
          id,
          state: stateName(o.state),
        });
      }
      return { ...o, state: IMAGE_STATES.LOCKED, body: { ...o.body, operation, error: null } };
    });
  }

  private async setProgress(id: number, done: number, total?: number): Promise<void> {
    await this.store.objects
      .update('image', id, undefined, (o) =>
        o.body.operation
          ? {
              ...o,
              body: {
                ...o.body,
                operation: {
                  ...o.body.operation,
                  done_bytes: done,
                  total_bytes: total ?? o.body.operation.total_bytes,
                },
              },
            }
          : o,
      )
      .catch(() => undefined);
  }

  /**
   * Runs a content operation: progress goes to the image row (at most every
   * 500 ms), success makes the image READY with its file, hash and format,
   * failure makes it ERROR with the reason.
   */
  private async fill(
    id: number,
    kind: ImageOperation['kind'],
    work: (
      signal: AbortSignal,
      progress: (done: number) => void,
    ) => Promise<{ path: string; sha256: string; bytes: number; format?: string }>,
  ): Promise<PoolObject<'image'>> {
    const abort = new AbortController();
    this.ops.set(id, abort);
    let last = 0;
    let writing: Promise<void> = Promise.resolve();
    const progress = (done: number) => {
      if (Date.now() - last < 500) return;
      last = Date.now();
      writing = writing.then(() => this.setProgress(id, done));
    };
    try {
      const stored = await work(abort.signal, progress);
      await writing;
      const updated = await this.store.objects.update('image', id, undefined, (o) => {
        const declared = parseImageFormat(getString(o.template, 'FORMAT'));
        const body: ImageBody = {
          ...o.body,
          source: stored.path,
          sha256: stored.sha256,
          size_bytes: stored.bytes,
          size_mb: Math.max(1, Math.ceil(stored.bytes / MB)),
          format: stored.format ?? declared ?? o.body.format,
          operation: null,
          error: null,
        };
        if (kind === 'mkfs') body.size_mb = o.body.size_mb;
        return { ...o, state: usageState(o, o.body.running_vms), body };
      });
      this.log.info({ imageId: id, op: kind, bytes: stored.bytes, sha256: stored.sha256 }, 'image content stored');
      void this.refreshCapacity(updated.body.datastore_id);
      return updated;
    } catch (err) {
      await writing;
      const one = err instanceof OneError ? err : new OneError('E_IMPORT_FAILED', String(err), {}, { cause: err });
      await this.fail(id, `${one.code}: ${one.message}`);
      throw one;
    } finally {
      this.ops.delete(id);
    }
  }

  private async fail(id: number, reason: string): Promise<void> {
    this.log.warn({ imageId: id, reason }, 'image operation failed');
    await this.store.objects
      .update('image', id, undefined, (o) => ({
        ...o,
        state: IMAGE_STATES.ERROR,
        body: { ...o.body, operation: null, error: reason },
      }))
      .catch(() => undefined);
  }
}

/**
 * Validation of PATH at create time: only http(s) URLs, whose host resolves
 * to public addresses only (unless the administrator allows internal ones).
 * Redirects are checked again while importing.
 */
export async function checkImagePath(raw: string, allowInternal: boolean): Promise<URL> {
  if (raw.includes('\0')) throw new OneError('E_PATH_INVALID', 'PATH contains a NUL byte', { field: 'PATH' });
  if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) {
    const url = parseImportUrl(raw);
    await checkUrlTarget(url, { allowInternal });
    return url;
  }
  const traversal = raw.split(/[\\/]/).includes('..');
  throw new OneError(
    'E_PATH_INVALID',
    traversal
      ? `PATH '${raw}' walks out of its directory ('..'); local paths are not read by the front-end`
      : `PATH '${raw}' is a front-end local file; upload it (oneedge image create --path FILE) or give an http(s) URL`,
    { field: 'PATH' },
  );
}

async function hashFile(path: string): Promise<{ sha256: string; bytes: number; format: string }> {
  const hash = createHash('sha256');
  const head = Buffer.alloc(FORMAT_PROBE_BYTES);
  let headLen = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    if (headLen < head.length) headLen += b.copy(head, headLen, 0, Math.min(b.length, head.length - headLen));
    hash.update(b);
  }
  return {
    sha256: hash.digest('hex'),
    bytes: (await stat(path)).size,
    format: detectImageFormat(head.subarray(0, headLen)),
  };
}
