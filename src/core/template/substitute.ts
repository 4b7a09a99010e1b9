import { Buffer } from 'node:buffer';
import { OneError } from '../errors.js';
import { getString, getVectors, positionOf } from './access.js';
import { serializeNative } from './native-serializer.js';
import type { PositionMap, Template, TemplateValue, TemplateVector } from './types.js';
import type { VariableRef } from './variables.js';
import { replaceVariables } from './variables.js';

/** How the VM's NIC (or NIC_ALIAS) was selected in `$NETWORK[ATTR, KEY=value]`. */
export interface NetworkLookup {
  key: 'NETWORK_ID' | 'NETWORK' | 'NIC_ID';
  value: string;
  /**
   * The VM's NIC (or NIC_ALIAS) whose KEY equals value, if there is one (for
   * NIC_ID, a NIC without a NIC_ID attribute matches by its index).
   */
  nic: TemplateVector | undefined;
}

/** How the VM's DISK was selected in `$IMAGE[ATTR, KEY=value]`. */
export interface ImageLookup {
  key: 'IMAGE_ID' | 'IMAGE';
  value: string;
  /** The VM's DISK whose KEY equals value, if there is one. */
  disk: TemplateVector | undefined;
}

/**
 * Synchronous lookups of other objects' templates, supplied by the caller so
 * that substitution stays pure. Return undefined for "no such object".
 */
export interface ObjectResolver {
  network?(lookup: NetworkLookup): Template | undefined;
  image?(lookup: ImageLookup): Template | undefined;
  /** The template of the VM's owner, for `$USER[ATTR]`. */
  user?(): Template | undefined;
}

/** Values of the predefined variables, the object resolver and (optionally) positions for errors. */
export interface SubstitutionContext {
  vmId?: number | string;
  /** VM name for `$NAME`; the template's own NAME when left out. */
  name?: string;
  uid?: number | string;
  uname?: string;
  gid?: number | string;
  gname?: string;
  resolver?: ObjectResolver;
  /** Positions of the template, to put line and column into errors. */
  positions?: PositionMap;
}

/**
 * Replaces `$VARIABLE` references in every string value and vector value of
 * `t` (reference syntax: `replaceVariables`) and returns a new template.
 * Values are substituted once, against the original template; inserted text
 * is never re-scanned.
 *
 * Resolution, after OpenNebula's `vm_var_syntax.y`:
 * - `$VMID $NAME $UID $UNAME $GID $GNAME` come from `ctx` (`vmId`, `name`, …;
 *   a missing one falls back to the template attribute of that name).
 * - `$TEMPLATE` is the whole original template in base64. OpenNebula encodes
 *   its XML; we encode the native text (`serializeNative`).
 * - `$VAR` is the template's own single attribute VAR (`$MEMORY`), or empty
 *   when there is none (or VAR is a vector) — e.g. `$HOME` in a script
 *   becomes empty: write `\$HOME`.
 * - `$VAR[SUB]` is SUB of the first vector VAR; `$VAR[SUB, KEY="v"]` of the
 *   first vector VAR whose KEY is v; empty when none matches.
 * - `$NETWORK[ATTR, NETWORK_ID|NETWORK|NIC_ID=…]`, `$IMAGE[ATTR, IMAGE_ID|IMAGE=…]`
 *   and `$USER[ATTR]` read ATTR (empty if unset; `TEMPLATE` = the object's
 *   template in base64) from the object the resolver returns. A missing
 *   object, a missing resolver or a wrong selector key throws
 *   `E_TEMPLATE_SUBSTITUTION` with `{attribute, reference}` — stricter than
 *   OpenNebula, which silently substitutes an empty string.
 */
export function substitute(t: Template, ctx: SubstitutionContext = {}): Template {
  const s = new Substitution(t, ctx);
  const out: Template = {};
  for (const [name, value] of Object.entries(t)) {
    out[name] = Array.isArray(value) ? value.map((v, i) => s.value(name, i, v)) : s.value(name, 0, value);
  }
  return out;
}

type ObjectKind = 'NETWORK' | 'IMAGE' | 'USER';

const SELECTORS: Record<ObjectKind, readonly string[]> = {
  NETWORK: ['NETWORK_ID', 'NETWORK', 'NIC_ID'],
  IMAGE: ['IMAGE_ID', 'IMAGE'],
  USER: [],
};

class Substitution {
  private templateBase64: string | undefined;
  private readonly objects = new Map<string, Template>();
  private readonly predefined: ReadonlyMap<string, string>;

  constructor(
    private readonly t: Template,
    private readonly ctx: SubstitutionContext,
  ) {
    const given = { VMID: ctx.vmId, NAME: ctx.name, UID: ctx.uid, UNAME: ctx.uname, GID: ctx.gid, GNAME: ctx.gname };
    this.predefined = new Map(
      Object.entries(given).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])),
    );
  }

  value(name: string, index: number, v: TemplateValue): TemplateValue {
    if (typeof v === 'string') return this.text(`${name}[${index}]`, v);
    const out: TemplateVector = {};
    for (const [sub, text] of Object.entries(v)) out[sub] = this.text(`${name}[${index}]/${sub}`, text);
    return out;
  }

  private text(path: string, text: string): string {
    // `$FILE[IMAGE=…]` (OS/KERNEL_DS, INITRD_DS) names an image, resolved when the VM is created: kept as written.
    return replaceVariables(text, (ref) => (ref.name === 'FILE' ? undefined : this.resolve(path, ref)));
  }

  private resolve(path: string, ref: VariableRef): string {
    if (ref.sub === undefined) return this.single(ref.name);
    if (ref.name === 'NETWORK' || ref.name === 'IMAGE' || ref.name === 'USER') {
      const object = this.object(path, ref.name, ref);
      return ref.sub === 'TEMPLATE' ? base64(serializeNative(object)) : (getString(object, ref.sub) ?? '');
    }
    const vectors = getVectors(this.t, ref.name);
    const match = ref.key === undefined ? vectors[0] : vectors.find((v) => v[ref.key!] === ref.value);
    return match?.[ref.sub] ?? '';
  }

  private single(name: string): string {
    const predefined = this.predefined.get(name);
    if (predefined !== undefined) return predefined;
    if (name === 'TEMPLATE') {
      this.templateBase64 ??= base64(serializeNative(this.t));
      return this.templateBase64;
    }
    return getString(this.t, name) ?? '';
  }

  private object(path: string, kind: ObjectKind, ref: VariableRef): Template {
    // One lookup per object, however many of its attributes are used.
    const cacheKey = kind === 'USER' ? kind : `${kind}\n${ref.key}\n${ref.value}`;
    const cached = this.objects.get(cacheKey);
    if (cached !== undefined) return cached;
    const found = this.lookup(path, kind, ref);
    if (found === undefined) throw this.error(path, ref, `no such ${kind.toLowerCase()}`);
    this.objects.set(cacheKey, found);
    return found;
  }

  private lookup(path: string, kind: ObjectKind, ref: VariableRef): Template | undefined {
    const resolver = this.ctx.resolver;
    if (kind === 'USER') {
      if (resolver?.user === undefined) throw this.error(path, ref, 'no user resolver');
      return resolver.user();
    }
    const allowed = SELECTORS[kind];
    if (ref.key === undefined || !allowed.includes(ref.key)) {
      throw this.error(path, ref, `select the ${kind.toLowerCase()} with ${allowed.join(', ')} (e.g. ${allowed[0]}=0)`);
    }
    const value = ref.value ?? '';
    if (kind === 'NETWORK') {
      if (resolver?.network === undefined) throw this.error(path, ref, 'no network resolver');
      const key = ref.key as NetworkLookup['key'];
      return resolver.network({ key, value, nic: this.findNic(key, value) });
    }
    if (resolver?.image === undefined) throw this.error(path, ref, 'no image resolver');
    const key = ref.key as ImageLookup['key'];
    return resolver.image({ key, value, disk: getVectors(this.t, 'DISK').find((d) => d[key] === value) });
  }

  /** The NIC (then NIC_ALIAS) whose KEY is value; NIC_ID defaults to the NIC's index. */
  private findNic(key: NetworkLookup['key'], value: string): TemplateVector | undefined {
    const nics = getVectors(this.t, 'NIC');
    const byAttribute = [...nics, ...getVectors(this.t, 'NIC_ALIAS')].find((n) => n[key] === value);
    if (byAttribute !== undefined || key !== 'NIC_ID') return byAttribute;
    const nic = /^[0-9]+$/.test(value) ? nics[Number(value)] : undefined;
    return nic?.NIC_ID === undefined ? nic : undefined;
  }

  private error(path: string, ref: VariableRef, reason: string): OneError {
    const details: Record<string, unknown> = { attribute: path, reference: ref.source };
    const at = this.ctx.positions === undefined ? undefined : positionOf(this.ctx.positions, path);
    if (at !== undefined) Object.assign(details, at);
    const where = at === undefined ? '' : ` (line ${at.line}, column ${at.column})`;
    return new OneError('E_TEMPLATE_SUBSTITUTION', `${path}: cannot resolve ${ref.source}: ${reason}${where}`, details);
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
