import type { ObjectKind, PoolObject } from './model.js';
import { formatOctal } from './permissions.js';
import { stateNames } from './state-names.js';

/** Body keys that never leave the server. */
export const SECRET_BODY_KEYS: Partial<Record<ObjectKind, readonly string[]>> = {
  user: ['password_hash'],
  host: ['credential_hash', 'join_token_hash'],
};

/**
 * The API representation of an object as a JSON string: the common fields,
 * the state names, the template, then the kind-specific body fields at the top
 * level, minus secrets. Reads of stored objects get the same text composed by
 * the database (store/render-sql.ts: one object or 20,000 without parsing or
 * serialising anything in Node); a change to this shape must be made there
 * too, and store/render-sql.test.ts compares the two for every kind.
 */
export function renderObjectJson(obj: PoolObject, known: KnownJson = {}): string {
  const secrets = SECRET_BODY_KEYS[obj.kind];
  let bodyJson = secrets ? undefined : known.body;
  if (bodyJson === undefined) {
    let body: Record<string, unknown> = obj.body as unknown as Record<string, unknown>;
    if (secrets) {
      body = { ...body };
      for (const k of secrets) delete body[k];
    }
    bodyJson = JSON.stringify(body);
  }
  const names = stateNames(obj.kind, obj.state, obj.lcmState);
  const head: Record<string, unknown> = {
    id: obj.id,
    name: obj.name,
    uid: obj.uid,
    gid: obj.gid,
    uname: obj.uname,
    gname: obj.gname,
    permissions: formatOctal(obj.perms),
    revision: obj.revision,
    created_at: obj.createdAt,
    updated_at: obj.updatedAt,
  };
  if (names) {
    head.state = names.state;
    if (names.lcmState !== undefined) head.lcm_state = names.lcmState;
  }
  // Three pieces joined, not one stringification of a merged object: spreading the body into the
  // head made V8 build slow dictionary objects (~10× the cost on every store write), and the
  // template and body texts are often already at hand (the store serialises them for their own
  // columns). Body keys never repeat the head's.
  const headJson = JSON.stringify(head);
  const templateJson = known.template ?? JSON.stringify(obj.template);
  const tail = bodyJson === '{}' ? '}' : `,${bodyJson.slice(1)}`;
  return `${headJson.slice(0, -1)},"template":${templateJson}${tail}`;
}

/** JSON texts of an object's template and body that the caller already has (must be exact). */
export interface KnownJson {
  template?: string;
  body?: string;
}
