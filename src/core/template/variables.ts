/**
 * A `$VARIABLE` reference found inside a template value. Forms (names are
 * case-insensitive and reported upper-cased):
 *
 *     $VAR                      { name }
 *     $VAR[SUB]                 { name, sub }
 *     $VAR[SUB, KEY="value"]    { name, sub, key, value }   (or KEY=value)
 */
export interface VariableRef {
  name: string;
  sub?: string;
  key?: string;
  value?: string;
  /** The reference exactly as written, e.g. `$NETWORK[IP, NETWORK_ID=0]`. */
  source: string;
}

/**
 * Rewrites every `$VARIABLE` reference in `text` with `replace(ref)`; a
 * reference for which `replace` returns undefined is kept verbatim.
 *
 * Lexical rules (after OpenNebula's `vm_var_parser.l`): a reference is `$`
 * followed by a letter, then letters, digits and `_`. `$` followed by
 * anything else is literal, and `\$` is kept verbatim (both characters) and is
 * not a reference — the way to pass `$HOME` to a shell script (a backslash
 * pairs with the character after it, so in `\\$X` the `$X` is a reference). A `[` right
 * after the name starts the bracket form; if the bracket text does not match
 * `[ SUB ]` or `[ SUB , KEY = "value" ]` (value quoted, or a bare token of
 * letters, digits and `_.-`), the reference is the plain `$VAR` and the
 * bracket stays literal text, as shell-style `$X[@]` would expect.
 */
export function replaceVariables(text: string, replace: (ref: VariableRef) => string | undefined): string {
  let dollar = text.indexOf('$');
  if (dollar === -1) return text;
  let out = '';
  let copied = 0;
  while (dollar !== -1) {
    const ref = isEscaped(text, dollar) ? undefined : readReference(text, dollar);
    if (ref === undefined) {
      dollar = text.indexOf('$', dollar + 1);
      continue;
    }
    const replacement = replace(ref);
    const end = dollar + ref.source.length;
    if (replacement !== undefined) {
      out += text.slice(copied, dollar) + replacement;
      copied = end;
    }
    dollar = text.indexOf('$', end);
  }
  return out + text.slice(copied);
}

/** Every reference in `text`, in order (same rules as `replaceVariables`). */
export function findVariables(text: string): VariableRef[] {
  const refs: VariableRef[] = [];
  replaceVariables(text, (ref) => {
    refs.push(ref);
    return undefined;
  });
  return refs;
}

/** `\$` escapes; a backslash pairs with the next character, so `\\$X` is not escaped. */
function isEscaped(text: string, dollar: number): boolean {
  let run = 0;
  while (dollar - run - 1 >= 0 && text.charCodeAt(dollar - run - 1) === 92) run++;
  return run % 2 === 1;
}

const NAME_AT = /[A-Za-z][A-Za-z0-9_]*/y;
const BRACKET_AT =
  /\[[ \t]*([A-Za-z0-9_]+)[ \t]*(?:,[ \t]*([A-Za-z0-9_]+)[ \t]*=[ \t]*(?:"([^"]*)"|([A-Za-z0-9_.-]+))[ \t]*)?\]/y;

function readReference(text: string, dollar: number): VariableRef | undefined {
  NAME_AT.lastIndex = dollar + 1;
  const name = NAME_AT.exec(text);
  if (name === null) return undefined;
  const afterName = dollar + 1 + name[0].length;
  const ref: VariableRef = { name: name[0].toUpperCase(), source: text.slice(dollar, afterName) };
  if (text.charCodeAt(afterName) !== 91) return ref;
  BRACKET_AT.lastIndex = afterName;
  const bracket = BRACKET_AT.exec(text);
  if (bracket === null) return ref;
  ref.sub = bracket[1]!.toUpperCase();
  if (bracket[2] !== undefined) {
    ref.key = bracket[2].toUpperCase();
    ref.value = bracket[3] ?? bracket[4] ?? '';
  }
  ref.source = text.slice(dollar, afterName + bracket[0].length);
  return ref;
}
