import type { Document, Node, ParsedNode, Scalar, YAMLMap } from 'yaml';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { OneError } from '../errors.js';
import { SOURCE_NAME } from './native-chars.js';
import { templateSyntaxError } from './syntax-error.js';
import { appendValue, attributePath, occurrenceCount } from './template-builder.js';
import type { ParsedTemplate, PositionMap, Template, TemplateFormat, TemplateVector } from './types.js';

/**
 * Parses a YAML document whose content is the canonical template shape:
 *
 *     NAME: web
 *     MEMORY: 1024
 *     DISK:
 *       - { IMAGE_ID: 3 }
 *       - { TYPE: swap, SIZE: 1024 }
 *     CONTEXT: { NETWORK: "YES" }
 *
 * Keys are attribute names (any case, upper-cased); a scalar is a single
 * attribute, a mapping is a vector (its values must be scalars), a sequence
 * lists repeated occurrences (of scalars or mappings). Scalars become strings:
 * numbers and booleans keep their source spelling (`0.50` stays "0.50"), null
 * or an empty value becomes "". An empty sequence means the attribute is
 * absent; a one-element sequence is the element itself. Names that collide
 * after upper-casing are an error (use a sequence to repeat an attribute).
 * Anchors and aliases work, up to 100 alias uses per document.
 *
 * Throws `E_TEMPLATE_SYNTAX` with line and column for YAML errors and for
 * content of the wrong shape (e.g. nesting deeper than one level).
 */
export function parseYaml(text: string): ParsedTemplate {
  return parseStructured(text, 'yaml');
}

/**
 * The YAML walker shared with the JSON parser (YAML 1.2 is a superset of
 * JSON, and the yaml library gives every node a source range).
 */
export function parseStructured(text: string, format: 'yaml' | 'json'): ParsedTemplate {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  return new StructuredWalker(doc, lineCounter, format).walk();
}

/** Aliases may not multiply a small document into a huge template (cf. "billion laughs"). */
const MAX_ALIASES = 100;

class StructuredWalker {
  private aliases = 0;
  private readonly template: Template = {};
  private readonly positions: PositionMap = new Map();
  private readonly label: string;

  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly format: TemplateFormat,
  ) {
    this.label = format === 'json' ? 'JSON' : 'YAML';
  }

  walk(): ParsedTemplate {
    const first = this.doc.errors[0];
    if (first !== undefined) {
      const message = first.message.replace(/ at line \d+, column \d+[\s\S]*$/, '');
      throw this.errorAt(first.pos[0], `invalid ${this.label}: ${message}`, `valid ${this.label}`);
    }
    const root = this.doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) return this.result();
    if (!isMap(root)) {
      throw this.errorAt(this.start(root), `a ${this.label} template must be a mapping of attribute names`, 'mapping');
    }
    for (const pair of (root as YAMLMap<ParsedNode, ParsedNode | null>).items) {
      const { name, offset } = this.keyName(pair.key, undefined);
      if (this.template[name] !== undefined) {
        throw this.errorAt(
          offset,
          `duplicate attribute ${name} (names ignore case; use a list to repeat)`,
          'unique name',
        );
      }
      this.attribute(name, offset, pair.value);
    }
    return this.result();
  }

  private result(): ParsedTemplate {
    return { template: this.template, positions: this.positions, format: this.format };
  }

  private attribute(name: string, keyOffset: number, raw: ParsedNode | null): void {
    const node = this.resolve(raw);
    if (node !== null && isSeq(node)) {
      const items = node.items as (ParsedNode | null)[];
      for (const rawItem of items) {
        const item = this.resolve(rawItem);
        if (item !== null && isSeq(item)) {
          throw this.errorAt(this.start(item), `${name}: a list item must be a value or a vector, not a list`, 'value');
        }
        this.occurrence(name, item === null ? keyOffset : this.start(item), item);
      }
      return;
    }
    this.occurrence(name, keyOffset, node);
  }

  private occurrence(name: string, offset: number, node: ParsedNode | null): void {
    const index = occurrenceCount(this.template, name);
    this.positions.set(attributePath(name, index), this.position(offset));
    if (node !== null && isMap(node)) {
      appendValue(this.template, name, this.vector(name, index, node as YAMLMap<ParsedNode, ParsedNode | null>));
    } else {
      appendValue(this.template, name, this.scalar(name, offset, node));
    }
  }

  private vector(name: string, index: number, map: YAMLMap<ParsedNode, ParsedNode | null>): TemplateVector {
    const vector: TemplateVector = {};
    for (const pair of map.items) {
      const { name: sub, offset } = this.keyName(pair.key, name);
      if (vector[sub] !== undefined) {
        throw this.errorAt(offset, `duplicate sub-attribute ${name}/${sub} (names ignore case)`, 'unique name');
      }
      const node = this.resolve(pair.value);
      if (node !== null && (isMap(node) || isSeq(node))) {
        throw this.errorAt(
          this.start(node),
          `${name}/${sub}: vectors hold only plain values (templates nest one level deep)`,
          'value',
        );
      }
      vector[sub] = this.scalar(`${name}/${sub}`, offset, node);
      this.positions.set(attributePath(name, index, sub), this.position(offset));
    }
    return vector;
  }

  private keyName(raw: unknown, parent: string | undefined): { name: string; offset: number } {
    const key = this.resolve(raw as ParsedNode | null);
    const what = parent === undefined ? 'attribute name' : `sub-attribute name in ${parent}`;
    if (key === null || !isScalar(key)) {
      const offset = key === null ? 0 : this.start(key);
      throw this.errorAt(offset, `expected ${what}, found a ${key === null ? 'missing key' : 'complex key'}`, what);
    }
    const text = typeof key.value === 'string' ? key.value : (key.source ?? String(key.value));
    if (!SOURCE_NAME.test(text)) {
      throw this.errorAt(this.start(key), `invalid ${what} '${text}' (allowed: letters, digits, '_')`, what);
    }
    return { name: text.toUpperCase(), offset: this.start(key) };
  }

  private scalar(path: string, offset: number, node: ParsedNode | null): string {
    if (node === null) return '';
    if (!isScalar(node)) throw this.errorAt(this.start(node), `${path}: unsupported value`, 'value');
    const text = scalarText(node);
    if (text === undefined) {
      throw this.errorAt(this.start(node), `${path}: unsupported value type (use a string)`, 'string');
    }
    if (text.includes(']]>')) throw this.errorAt(offset, `value of ${path} contains ']]>'`, "a value without ']]>'");
    return text;
  }

  private resolve(node: ParsedNode | null): ParsedNode | null {
    if (node === null || !isAlias(node)) return node;
    if (++this.aliases > MAX_ALIASES) {
      throw this.errorAt(this.start(node), `more than ${MAX_ALIASES} aliases`, 'fewer aliases');
    }
    const target = node.resolve(this.doc);
    if (target === undefined) throw this.errorAt(this.start(node), 'unresolved alias', 'anchor');
    return target as ParsedNode;
  }

  private start(node: Node): number {
    return node.range?.[0] ?? 0;
  }

  private position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private errorAt(offset: number, problem: string, expected: string): OneError {
    const { line, column } = this.position(offset);
    return templateSyntaxError(line, column, problem, expected);
  }
}

function scalarText(node: Scalar): string | undefined {
  const value: unknown = node.value;
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return node.source ?? String(value);
  }
  return undefined;
}
