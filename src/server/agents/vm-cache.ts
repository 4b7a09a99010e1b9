import type { PoolObject } from '../../core/model.js';
import type { ChangeEvent, Store } from '../../store/index.js';

/** VMs re-read per query when catching up. */
const BATCH = 500;

/**
 * The live (not DONE) VMs as parsed objects, kept between scheduling passes.
 * A pass needs every VM that holds capacity, and re-reading and parsing the
 * whole fleet each time costs ~13 µs a VM (1.3 s at 100,000 VMs, on every
 * pass, however few VMs are pending). Instead the cache re-reads only VMs
 * whose change events it saw since the last pass. Objects are immutable (every
 * write builds a new one), so handing out the cached ones is safe.
 *
 * Events only cover this process's writes: another front-end sharing a
 * PostgreSQL database writes behind its back. Every `revalidateMs` the cache
 * therefore compares every live VM's revision with the database (one narrow
 * query) and re-reads what differs. A stale object is never a correctness
 * problem for placement either way: the plan applier writes with a
 * compare-and-set on the revision and re-checks capacity in the database.
 */
export class VmCache {
  private readonly vms = new Map<number, PoolObject<'vm'>>();
  private readonly dirty = new Set<number>();
  private maxId = -1;
  private loaded = false;
  private validatedAt = 0;
  private unsubscribe: (() => void) | null = null;
  readonly stats = { reads: 0, fullLoads: 0, revalidations: 0 };

  constructor(
    private readonly store: Store,
    private readonly revalidateMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.unsubscribe ??= this.store.objects.onChange((e: ChangeEvent) => {
      if (e.kind === 'vm' && this.vms.get(e.id)?.revision !== e.revision) this.dirty.add(e.id);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Every live VM, by id, current as of this call (see the class comment for other writers). */
  async list(): Promise<PoolObject<'vm'>[]> {
    if (!this.loaded) {
      // Events from here on mark what the full read below may already have missed.
      this.dirty.clear();
      const all = await this.store.objects.list('vm');
      for (const vm of all) this.vms.set(vm.id, vm);
      this.maxId = all.at(-1)?.id ?? -1;
      this.stats.reads += all.length;
      this.stats.fullLoads++;
      this.loaded = true;
      this.validatedAt = this.now();
    } else if (this.now() - this.validatedAt >= this.revalidateMs) {
      await this.revalidate();
    }
    if (this.dirty.size > 0) await this.reread([...this.dirty]);
    return [...this.vms.values()];
  }

  /** Compares every live VM's revision with the database and marks what differs. */
  private async revalidate(): Promise<void> {
    this.validatedAt = this.now();
    this.stats.revalidations++;
    const live = await this.store.objects.listRevisions('vm');
    const seen = new Set<number>();
    for (const { id, revision } of live) {
      seen.add(id);
      if (this.vms.get(id)?.revision !== revision) this.dirty.add(id);
    }
    for (const id of this.vms.keys()) if (!seen.has(id)) this.vms.delete(id);
  }

  private async reread(ids: number[]): Promise<void> {
    for (const id of ids) this.dirty.delete(id);
    ids.sort((a, b) => a - b);
    let outOfOrder = false;
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const found = new Map((await this.store.objects.list('vm', { ids: batch })).map((v) => [v.id, v]));
      this.stats.reads += found.size;
      for (const id of batch) {
        const vm = found.get(id);
        if (!vm)
          this.vms.delete(id); // DONE or deleted
        else {
          if (!this.vms.has(id)) {
            if (id < this.maxId) outOfOrder = true;
            else this.maxId = id;
          }
          this.vms.set(id, vm);
        }
      }
    }
    // Ids grow, so new VMs land at the end; one that did not (an explicit id) puts the order back.
    if (outOfOrder) {
      const sorted = [...this.vms.entries()].sort((a, b) => a[0] - b[0]);
      this.vms.clear();
      for (const [id, vm] of sorted) this.vms.set(id, vm);
    }
  }
}
