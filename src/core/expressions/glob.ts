/**
 * Shell-glob matching as `fnmatch(pattern, string, 0)` does it (no flags): `*`
 * matches any run of characters including `/` and a leading `.`, `?` any one
 * character, `[...]` a bracket expression (`!` or `^` negates, `a-z` ranges,
 * a `]` right after the opening bracket is literal, `[:alpha:]`-style classes),
 * and a backslash makes the next character literal. A `[` without a closing
 * `]` is a literal `[`. Matching is by Unicode code point.
 *
 * Patterns are compiled once; common shapes (`abc`, `abc*`, `*abc`, `*abc*`)
 * become plain string tests instead of regular expressions.
 */
export type GlobMatcher = (text: string) => boolean;

export function compileGlob(pattern: string): GlobMatcher {
  if (!/[*?[\\]/.test(pattern)) return (text) => text === pattern;
  const star = /^(\*?)([^*?[\\]*)(\*?)$/.exec(pattern);
  if (star !== null) {
    const [, lead, body = '', tail] = star;
    if (lead === '*' && tail === '*') return (text) => text.includes(body);
    if (lead === '*') return (text) => text.endsWith(body);
    return (text) => text.startsWith(body);
  }
  const re = new RegExp(`^${globToRegExpSource(pattern)}$`, 'u');
  return (text) => re.test(text);
}

const CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
};

function lit(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** The RegExp source (for the `u` flag) of a glob, without anchors. */
export function globToRegExpSource(pattern: string): string {
  const cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  let out = '';
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === 0x2a) out += '[^]*';
    else if (c === 0x3f) out += '[^]';
    else if (c === 0x5c) {
      // A trailing backslash stands for itself.
      i++;
      out += lit(i < cps.length ? cps[i]! : 0x5c);
    } else if (c === 0x5b) {
      const bracket = readBracket(cps, i);
      if (bracket === undefined) out += lit(c);
      else {
        out += bracket.source;
        i = bracket.end;
      }
    } else out += lit(c);
  }
  return out;
}

/** Parses `[...]` starting at `start`; undefined when it never closes. */
function readBracket(cps: number[], start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (cps[i] === 0x21 || cps[i] === 0x5e) {
    negate = true;
    i++;
  }
  const parts: string[] = [];
  let first = true;
  while (i < cps.length) {
    let c = cps[i]!;
    if (c === 0x5d && !first) {
      const body = parts.join('');
      if (body === '') return { source: negate ? '[^]' : '(?!)', end: i };
      return { source: `[${negate ? '^' : ''}${body}]`, end: i };
    }
    first = false;
    if (c === 0x5b && cps[i + 1] === 0x3a) {
      const close = findClassEnd(cps, i + 2);
      if (close !== -1) {
        const name = String.fromCodePoint(...cps.slice(i + 2, close));
        parts.push(CLASSES[name] ?? '');
        i = close + 2;
        continue;
      }
    }
    if (c === 0x5c && i + 1 < cps.length) {
      i++;
      c = cps[i]!;
    }
    // A range a-b (the `-` is literal at the end, before `]`).
    if (cps[i + 1] === 0x2d && i + 2 < cps.length && cps[i + 2] !== 0x5d) {
      let hi = cps[i + 2]!;
      let next = i + 3;
      if (hi === 0x5c && i + 3 < cps.length) {
        hi = cps[i + 3]!;
        next = i + 4;
      }
      if (c <= hi) parts.push(`${lit(c)}-${lit(hi)}`);
      i = next;
      continue;
    }
    parts.push(lit(c));
    i++;
  }
  return undefined;
}

function findClassEnd(cps: number[], from: number): number {
  for (let j = from; j + 1 < cps.length; j++) {
    if (cps[j] === 0x3a && cps[j + 1] === 0x5d) return j;
    if (cps[j] === 0x5d) return -1;
  }
  return -1;
}
