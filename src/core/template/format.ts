import { Document, isScalar, visit } from 'yaml';
import { parseJson } from './json-parser.js';
import { parseNative } from './native-parser.js';
import { serializeNative } from './native-serializer.js';
import { assertCanonicalTemplate } from './shape.js';
import type { ParsedTemplate, Template, TemplateFormat } from './types.js';
import { parseYaml } from './yaml-parser.js';

const NATIVE_LINE = /^[ \t]*[A-Za-z0-9_]+[ \t]*=/;
const YAML_LINE = /^(?:---|\.\.\.|%|[ \t]*-(?:[ \t]|$)|[ \t]*(?:"[^"]*"|'[^']*'|[^\s#:"'][^:#]*?)[ \t]*:(?:[ \t]|$))/;

/**
 * Decides the format of a template text from its first significant line, so
 * that a typo never switches the parser (and the error message) to another
 * language:
 *
 * 1. JSON if the first non-blank character is `{`.
 * 2. Skip blank lines and lines whose first non-blank character is `#`
 *    (comments in both native and YAML).
 * 3. Native if that line starts with `NAME =` — every valid native template
 *    does, and no valid YAML template can (a YAML key `NAME =` would be an
 *    invalid attribute name anyway).
 * 4. YAML if it looks like YAML: `key:` followed by a blank or the end of the
 *    line, a `- ` list item, `---`, `...` or a `%` directive.
 * 5. Native otherwise (including empty text), so that broken native templates
 *    get native syntax errors.
 */
export function detectFormat(text: string): TemplateFormat {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const firstNonBlank = /\S/.exec(text.slice(pos, pos + 4096));
  if (firstNonBlank?.[0] === '{') return 'json';
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    const line = text.slice(pos, end);
    pos = end + 1;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (NATIVE_LINE.test(line)) return 'native';
    return YAML_LINE.test(line) ? 'yaml' : 'native';
  }
  return 'native';
}

/**
 * Parses a template in any supported format (`auto`, the default, uses
 * `detectFormat`). All formats yield the same canonical Template and a
 * PositionMap; all syntax errors are `E_TEMPLATE_SYNTAX` with line and column.
 */
export function parseTemplate(text: string, format: TemplateFormat | 'auto' = 'auto'): ParsedTemplate {
  const chosen = format === 'auto' ? detectFormat(text) : format;
  switch (chosen) {
    case 'native':
      return parseNative(text);
    case 'yaml':
      return parseYaml(text);
    case 'json':
      return parseJson(text);
  }
}

/**
 * Writes a canonical template in the given format. Parsing the output with
 * the same format gives back an equal template. Throws `E_TEMPLATE_INVALID`
 * for non-canonical templates, and (native only) for values that syntax cannot
 * represent — see `serializeNative`.
 */
export function serializeTemplate(t: Template, format: TemplateFormat): string {
  switch (format) {
    case 'native':
      return serializeNative(t);
    case 'json':
      assertCanonicalTemplate(t);
      return `${JSON.stringify(t, null, 2)}\n`;
    case 'yaml':
      assertCanonicalTemplate(t);
      return toYaml(t);
  }
}

/**
 * YAML output keeps multi-line values (scripts) readable as literal blocks,
 * except when a line starts or ends with a blank: block scalars cannot always
 * carry that exactly (the yaml library mis-reads a first line of only spaces),
 * so those values are double-quoted with escapes.
 */
function toYaml(t: Template): string {
  const doc = new Document(t);
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && EDGE_BLANK_LINE.test(node.value)) {
        node.type = 'QUOTE_DOUBLE';
      }
    },
  });
  return doc.toString({ lineWidth: 0 });
}

const EDGE_BLANK_LINE = /(?:^|\n)[ \t]|[ \t](?:\n|$)/;
