import { type RawBuilder, sql } from 'kysely';
import type { ObjectKind } from '../core/model.js';
import { SECRET_BODY_KEYS } from '../core/present.js';
import { stateNameTables } from '../core/state-names.js';

type Dialect = 'sqlite' | 'postgres';

const TEXT = new Map<string, string>();

/**
 * The SQL expression that composes an object's API representation from its
 * row: the same text as core/present.ts renderObjectJson (key order included,
 * whitespace aside on PostgreSQL's secret-stripped bodies), built by the
 * database on read. Rows therefore carry their template and body once, not a
 * second time inside a stored rendering: a VM placement writes ~40 % of the
 * bytes it used to, and a change to the representation needs no migration.
 * A consistency test compares both renderings for every kind and dialect.
 */
export function objectJsonSql(kind: ObjectKind, dialect: Dialect): RawBuilder<string> {
  const key = `${dialect}:${kind}`;
  let text = TEXT.get(key);
  if (text === undefined) {
    text = compose(kind, dialect);
    TEXT.set(key, text);
  }
  return sql.raw<string>(text);
}

function compose(kind: ObjectKind, dialect: Dialect): string {
  const pg = dialect === 'postgres';
  const str = (col: string) => (pg ? `to_json("${col}")::text` : `json_quote("${col}")`);
  const num = (col: string) => (pg ? `"${col}"::text` : `"${col}"`);
  const parts = [
    `'{"id":'`,
    num('id'),
    `',"name":'`,
    str('name'),
    `',"uid":'`,
    num('uid'),
    `',"gid":'`,
    num('gid'),
    `',"uname":'`,
    str('uname'),
    `',"gname":'`,
    str('gname'),
    // Three octal digits, as core/permissions.ts formatOctal.
    `',"permissions":"'`,
    `(("perms" >> 6) & 7)${pg ? '::text' : ''}`,
    `(("perms" >> 3) & 7)${pg ? '::text' : ''}`,
    `("perms" & 7)${pg ? '::text' : ''}`,
    `'","revision":'`,
    num('revision'),
    `',"created_at":'`,
    num('created_at'),
    `',"updated_at":'`,
    num('updated_at'),
  ];
  const names = stateNameTables(kind);
  if (names) {
    parts.push(`',"state":"'`, nameCase('state', names.state, pg), `'"'`);
    if (names.lcm) parts.push(`',"lcm_state":"'`, nameCase('lcm_state', names.lcm, pg), `'"'`);
  }
  parts.push(`',"template":'`, `"template"`);
  // The body's keys follow at the top level: its text without the opening brace (an empty body adds none).
  const body = bodyText(kind, pg);
  parts.push(`case when ${body} = '{}' then '}' else ',' || substr(${body}, 2) end`);
  return parts.join(' || ');
}

/** `case <col> when 0 then 'NAME' … else <col> end`: the names are constants of ours (checked), never input. */
function nameCase(col: string, names: Readonly<Record<number, string>>, pg: boolean): string {
  const arms = Object.entries(names).map(([n, name]) => {
    if (!/^\d+$/.test(n) || !/^[A-Z0-9_]+$/.test(name)) throw new Error(`unexpected state name ${n}=${name}`);
    return `when ${n} then '${name}'`;
  });
  return `(case "${col}" ${arms.join(' ')} else "${col}"${pg ? '::text' : ''} end)`;
}

/** The body column, minus the keys that never leave the server. */
function bodyText(kind: ObjectKind, pg: boolean): string {
  const secrets = SECRET_BODY_KEYS[kind];
  if (!secrets) return '"body"';
  for (const k of secrets) if (!/^[a-z_]+$/.test(k)) throw new Error(`unexpected secret key ${k}`);
  return pg
    ? `("body"::jsonb ${secrets.map((k) => `- '${k}'`).join(' ')})::text`
    : `json_remove("body", ${secrets.map((k) => `'$.${k}'`).join(', ')})`;
}
