import type { ObjectKind, PoolObject } from '../core/model.js';
import { formatOctal } from '../core/permissions.js';
import type { AnyRow } from '../store/index.js';
import { stateNames } from './state-names.js';

/** Body keys that never leave the server. */
const SECRET_BODY_KEYS: Partial<Record<ObjectKind, readonly string[]>> = { user: ['password_hash'] };

/**
 * The API representation of an object, built straight from its database row
 * as a JSON string: the template and body columns are already JSON, so they
 * are spliced in without a parse/serialise round trip. This keeps `GET` and
 * large lists cheap. Kind-specific fields (`body`) appear at the top level.
 */
export function rowToJson(kind: ObjectKind, row: AnyRow): string {
  let body = row.body;
  const secrets = SECRET_BODY_KEYS[kind];
  if (secrets) {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const k of secrets) delete parsed[k];
    body = JSON.stringify(parsed);
  }
  const names = stateNames(kind, row.state, row.lcm_state);
  let out = `{"id":${row.id},"name":${JSON.stringify(row.name)},"uid":${row.uid},"gid":${row.gid},"uname":${JSON.stringify(row.uname)},"gname":${JSON.stringify(row.gname)},"permissions":"${formatOctal(row.perms)}","revision":${row.revision},"created_at":${Number(row.created_at)},"updated_at":${Number(row.updated_at)}`;
  if (names) {
    out += `,"state":"${names.state}"`;
    if (names.lcmState !== undefined) out += `,"lcm_state":"${names.lcmState}"`;
  }
  out += `,"template":${row.template}`;
  return body.length > 2 ? `${out},${body.slice(1)}` : `${out}}`;
}

export function rowsToJson(kind: ObjectKind, rows: readonly AnyRow[], extra: string): string {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) parts[i] = rowToJson(kind, rows[i] as AnyRow);
  return `{"items":[${parts.join(',')}]${extra}}`;
}

/** The same representation for an object already in memory. */
export function objectToJson(obj: PoolObject): string {
  return rowToJson(obj.kind, {
    id: obj.id,
    name: obj.name,
    uid: obj.uid,
    gid: obj.gid,
    uname: obj.uname,
    gname: obj.gname,
    perms: obj.perms,
    state: obj.state,
    lcm_state: obj.lcmState,
    template: JSON.stringify(obj.template),
    body: JSON.stringify(obj.body),
    revision: obj.revision,
    created_at: obj.createdAt,
    updated_at: obj.updatedAt,
  });
}
