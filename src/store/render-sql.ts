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
  const names = stateNameTables(kind);
  const body = bodyText(kind, pg);
  // The body's keys follow at the top level: its text without the opening brace (an empty body adds none).
  const tail = `case when ${body} = '{}' then '}' else ',' || substr(${body}, 2) end`;
  if (!pg) {
    // One printf builds the whole text (a chain of || copies the growing string at every step).
    let format =
      '{"id":%d,"name":%s,"uid":%d,"gid":%d,"uname":%s,"gname":%s,"permissions":"%03o","revision":%d,"created_at":%d,"updated_at":%d';
    const args = ['"id"', 'json_quote("name")', '"uid"', '"gid"', 'json_quote("uname")', 'json_quote("gname")'];
    args.push('"perms" & 511', '"revision"', '"created_at"', '"updated_at"');
    if (names) {
      format += ',"state":"%s"';
      args.push(nameCase('state', names.state, false));
      if (names.lcm) {
        format += ',"lcm_state":"%s"';
        args.push(nameCase('lcm_state', names.lcm, false));
      }
    }
    format += ',"template":%s%s';
    args.push('"template"', tail);
    return `printf('${format}', ${args.join(', ')})`;
  }
  const str = (col: string) => `to_json("${col}")::text`;
  const num = (col: string) => `"${col}"::text`;
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
    `(("perms" >> 6) & 7)::text`,
    `(("perms" >> 3) & 7)::text`,
    `("perms" & 7)::text`,
    `'","revision":'`,
    num('revision'),
    `',"created_at":'`,
    num('created_at'),
    `',"updated_at":'`,
    num('updated_at'),
  ];
  if (names) {
    parts.push(`',"state":"'`, nameCase('state', names.state, true), `'"'`);
    if (names.lcm) parts.push(`',"lcm_state":"'`, nameCase('lcm_state', names.lcm, true), `'"'`);
  }
  parts.push(`',"template":'`, `"template"`, tail);
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
