import { isOneError } from '../errors.js';
import { schedActionOfVector } from '../sched-actions.js';
import { getAll, getVectors, positionOf } from './access.js';
import type { TemplateIssue } from './issues.js';
import { templateIssue, throwIfIssues } from './issues.js';
import type { ParsedTemplate, TemplateVector } from './types.js';
import { readUserInputs } from './user-input-definitions.js';

/**
 * An image or network the template refers to, for the caller to check
 * against the database (existence, ownership, permissions). By id, or by
 * name with an optional owner (`*_UNAME` or `*_UID`; when neither is given
 * OpenNebula looks in the VM owner's objects).
 */
export interface TemplateReference {
  kind: 'image' | 'network';
  by: 'id' | 'name';
  id?: number;
  name?: string;
  /** Owner by name (`IMAGE_UNAME`, `NETWORK_UNAME`); given instead of `ownerId`. */
  ownerName?: string;
  /** Owner by id (`IMAGE_UID`, `NETWORK_UID`). */
  ownerId?: number;
  /** Path of the referring attribute, e.g. `DISK[0]/IMAGE_ID`, `NIC[1]/NETWORK`. */
  attribute: string;
  /** Where that attribute is in the source (1-based), when known. */
  line?: number;
  column?: number;
}

/**
 * Checks the attributes of a VM template that OpenNebula checks at
 * `template create`/`vm create`, and collects the image and network
 * references. Run it after user inputs are applied: a value that is still a
 * `$VARIABLE` is not a valid number.
 *
 * Rules: MEMORY required, a positive integer (MB); CPU a positive number;
 * VCPU, VCPU_MAX, MEMORY_MAX positive integers; USER_PRIORITY an integer in
 * -128..127; each DISK has IMAGE_ID (integer ≥ 0), IMAGE (+ optional
 * IMAGE_UNAME or IMAGE_UID), or TYPE=fs|swap with a positive integer SIZE;
 * each NIC/NIC_ALIAS has NETWORK_ID, NETWORK (+ NETWORK_UNAME|NETWORK_UID) or
 * NETWORK_MODE=auto, and a NIC_ALIAS has PARENT; GRAPHICS TYPE is vnc or spice
 * (any case), PORT 0..65535; TOPOLOGY SOCKETS, CORES, THREADS, HUGEPAGE_SIZE
 * positive integers, PIN_POLICY CORE|THREAD|SHARED|NONE, MEMORY_ACCESS
 * shared|private; vector attributes are vectors, and CONTEXT, GRAPHICS, OS,
 * TOPOLOGY, CPU_MODEL, FEATURES occur at most once; USER_INPUTS well-formed.
 *
 * Throws one `E_TEMPLATE_INVALID` naming the first problem, with
 * `details.{attribute,line,column}` for it and `details.errors` listing all.
 */
export function validateVmTemplate(
  parsed: ParsedTemplate,
  options: ValidateOptions = {},
): { references: TemplateReference[] } {
  const v = new VmValidator(parsed, options.deferVariables === true);
  v.run();
  throwIfIssues(v.issues);
  return { references: v.references };
}

export interface ValidateOptions {
  /**
   * Accept values that still hold a `$VARIABLE` (`MEMORY = "$MEM"` answered by
   * USER_INPUTS): they are checked again at instantiation, once substituted.
   * Use it when registering a template; never for a VM.
   */
  deferVariables?: boolean;
}

const VARIABLE = /\$[A-Za-z_]/;

const POSITIVE_INT = /^[0-9]+$/;
const NUMBER = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;
const INT = /^[-+]?[0-9]+$/;

const VECTORS = [
  'DISK',
  'NIC',
  'NIC_ALIAS',
  'NIC_DEFAULT',
  'CONTEXT',
  'GRAPHICS',
  'OS',
  'FEATURES',
  'CPU_MODEL',
  'TOPOLOGY',
  'NUMA_NODE',
  'INPUT',
  'PCI',
  'RAW',
  'SCHED_ACTION',
  'VMGROUP',
  'USER_INPUTS',
] as const;
const SINGLE_VECTORS = new Set(['CONTEXT', 'GRAPHICS', 'OS', 'TOPOLOGY', 'CPU_MODEL', 'FEATURES']);

type Check = (value: string) => string | undefined;

const positiveInt: Check = (v) =>
  POSITIVE_INT.test(v) && Number(v) > 0 ? undefined : `must be a positive integer, got '${v}'`;
const nonNegativeInt: Check = (v) => (POSITIVE_INT.test(v) ? undefined : `must be a non-negative integer, got '${v}'`);
const positiveNumber: Check = (v) =>
  NUMBER.test(v) && Number(v) > 0 ? undefined : `must be a positive number, got '${v}'`;
const intIn =
  (min: number, max: number): Check =>
  (v) =>
    INT.test(v) && Number(v) >= min && Number(v) <= max
      ? undefined
      : `must be an integer in ${min}..${max}, got '${v}'`;
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    allowed.includes(v.toUpperCase()) ? undefined : `must be one of ${allowed.join(', ')} (any case), got '${v}'`;
const nonEmpty: Check = (v) => (v.trim() === '' ? 'must not be empty' : undefined);

class VmValidator {
  readonly issues: TemplateIssue[] = [];
  readonly references: TemplateReference[] = [];

  constructor(
    private readonly parsed: ParsedTemplate,
    private readonly deferVariables: boolean,
  ) {}

  run(): void {
    this.single('MEMORY', positiveInt, true);
    this.single('CPU', positiveNumber);
    this.single('VCPU', positiveInt);
    this.single('VCPU_MAX', positiveInt);
    this.single('MEMORY_MAX', positiveInt);
    this.single('USER_PRIORITY', intIn(-128, 127));
    for (const name of VECTORS) this.vectorShape(name);
    this.eachVector('DISK', (d, p) => this.disk(d, p));
    this.eachVector('NIC', (n, p) => this.nic(n, p, 'NIC'));
    this.eachVector('NIC_ALIAS', (n, p) => {
      this.nic(n, p, 'NIC_ALIAS');
      if (n.PARENT === undefined) this.add(p, 'needs PARENT (the NAME of the NIC it is an alias of)');
    });
    this.eachVector('GRAPHICS', (g, p) => {
      if (g.TYPE === undefined) this.add(p, 'needs TYPE (vnc or spice)');
      this.sub(g, p, 'TYPE', oneOf('VNC', 'SPICE'));
      this.sub(g, p, 'PORT', intIn(0, 65535));
    });
    this.eachVector('TOPOLOGY', (t, p) => {
      for (const sub of ['SOCKETS', 'CORES', 'THREADS', 'HUGEPAGE_SIZE']) this.sub(t, p, sub, positiveInt);
      this.sub(t, p, 'PIN_POLICY', oneOf('CORE', 'THREAD', 'SHARED', 'NONE'));
      this.sub(t, p, 'MEMORY_ACCESS', oneOf('SHARED', 'PRIVATE'));
    });
    this.eachVector('SCHED_ACTION', (v, path) => {
      try {
        schedActionOfVector(v, 0, 0);
      } catch (err) {
        if (!isOneError(err) || err.code !== 'E_SCHED_ACTION') throw err;
        const field = String(err.details.field ?? '').split('/')[1] ?? '';
        this.add(`${path}/${field}`, String(err.details.reason ?? err.message));
      }
    });
    const userInputs = readUserInputs(this.parsed.template, this.parsed.positions);
    this.issues.push(...userInputs.issues);
    // An answer becomes a top-level attribute of that name, so it cannot name a vector attribute.
    getVectors(this.parsed.template, 'USER_INPUTS').forEach((v, i) => {
      for (const name of Object.keys(v)) {
        if ((VECTORS as readonly string[]).includes(name)) {
          this.add(`USER_INPUTS[${i}]/${name}`, `${name} is a vector attribute and cannot be a user input`);
        }
      }
    });
  }

  private add(attribute: string, message: string): void {
    this.issues.push(templateIssue(this.parsed.positions, attribute, message));
  }

  private single(name: string, check: Check, required = false): void {
    const all = getAll(this.parsed.template, name);
    if (all.length === 0) {
      if (required) this.add(name, 'is required');
      return;
    }
    if (all.length > 1) this.add(`${name}[1]`, 'must occur only once');
    const value = all[0]!;
    if (typeof value !== 'string') {
      this.add(name, 'must be a single value, not a vector');
      return;
    }
    const problem = this.deferVariables && VARIABLE.test(value) ? undefined : check(value);
    if (problem !== undefined) this.add(name, problem);
  }

  private vectorShape(name: string): void {
    const all = getAll(this.parsed.template, name);
    all.forEach((v, i) => {
      if (typeof v === 'string') this.add(`${name}[${i}]`, `must be a vector: ${name} = [ ... ]`);
    });
    if (SINGLE_VECTORS.has(name) && all.length > 1) this.add(`${name}[1]`, 'must occur only once');
  }

  private eachVector(name: string, visit: (vector: TemplateVector, path: string) => void): void {
    getAll(this.parsed.template, name).forEach((v, i) => {
      if (typeof v !== 'string') visit(v, `${name}[${i}]`);
    });
  }

  /** Checks an optional sub-attribute; returns true when present and valid. */
  private sub(vector: TemplateVector, path: string, sub: string, check: Check): boolean {
    const value = vector[sub];
    if (value === undefined) return false;
    const problem = this.deferVariables && VARIABLE.test(value) ? undefined : check(value);
    if (problem !== undefined) this.add(`${path}/${sub}`, problem);
    return problem === undefined;
  }

  private disk(d: TemplateVector, p: string): void {
    this.sub(d, p, 'SIZE', positiveInt);
    if (d.IMAGE_ID !== undefined || d.IMAGE !== undefined) {
      this.reference('image', d, p, 'IMAGE');
      return;
    }
    if (d.TYPE === undefined) {
      this.add(p, 'needs IMAGE_ID, IMAGE, or TYPE=fs|swap with SIZE');
      return;
    }
    if (this.sub(d, p, 'TYPE', oneOf('FS', 'SWAP')) && d.SIZE === undefined) {
      this.add(p, `a volatile disk (TYPE=${d.TYPE}) needs SIZE in MB`);
    }
  }

  private nic(n: TemplateVector, p: string, name: string): void {
    const auto = n.NETWORK_MODE?.toLowerCase() === 'auto';
    if (n.NETWORK_ID !== undefined || n.NETWORK !== undefined) this.reference('network', n, p, 'NETWORK');
    else if (!auto) this.add(p, `${name} needs NETWORK_ID, NETWORK, or NETWORK_MODE=auto`);
    this.sub(n, p, 'NETWORK_MODE', oneOf('AUTO', 'MANUAL'));
  }

  /** IMAGE_ID / IMAGE (+ _UNAME / _UID), or the NETWORK equivalents. */
  private reference(kind: 'image' | 'network', v: TemplateVector, p: string, prefix: 'IMAGE' | 'NETWORK'): void {
    const idKey = `${prefix}_ID`;
    if (v[idKey] !== undefined) {
      if (this.sub(v, p, idKey, nonNegativeInt)) {
        this.push(this.ref({ kind, by: 'id', id: Number(v[idKey]), attribute: `${p}/${idKey}` }));
      }
      return;
    }
    const okName = this.sub(v, p, prefix, nonEmpty);
    const okUid = v[`${prefix}_UID`] === undefined || this.sub(v, p, `${prefix}_UID`, nonNegativeInt);
    if (!okName || !okUid) return;
    const ref: TemplateReference = { kind, by: 'name', name: v[prefix]!, attribute: `${p}/${prefix}` };
    const uname = v[`${prefix}_UNAME`];
    const uid = v[`${prefix}_UID`];
    if (uname !== undefined) ref.ownerName = uname;
    else if (uid !== undefined) ref.ownerId = Number(uid);
    this.push(this.ref(ref));
  }

  private push(ref: TemplateReference | undefined): void {
    if (ref) this.references.push(ref);
  }

  private ref(r: TemplateReference): TemplateReference | undefined {
    // A reference still written as a $VARIABLE is resolved, and checked, at instantiation.
    const deferred = [r.id, r.name, r.ownerName, r.ownerId].some((x) => VARIABLE.test(String(x ?? '')));
    if ((this.deferVariables && deferred) || (r.by === 'id' && !Number.isInteger(r.id))) return undefined;
    const at = positionOf(this.parsed.positions, r.attribute);
    return at === undefined ? r : { ...r, line: at.line, column: at.column };
  }
}
