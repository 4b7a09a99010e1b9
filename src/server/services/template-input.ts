import { OneError } from '../../core/errors.js';
import { parseTemplate } from '../../core/template/index.js';
import type { ParsedTemplate, Template, TemplateFormat } from '../../core/template/types.js';

/** A template as the API accepts it: text in any format, or the canonical JSON object. */
export interface TemplateInput {
  template?: string | Template | undefined;
  format?: TemplateFormat | 'auto' | undefined;
}

export function readTemplate(input: TemplateInput, required = true): ParsedTemplate {
  const t = input.template;
  if (t === undefined || t === null) {
    if (!required) return { template: {}, positions: new Map(), format: 'json' };
    throw new OneError('E_VALIDATION', "the request needs a 'template' (text or object)", { field: 'template' });
  }
  if (typeof t === 'string') return parseTemplate(t, input.format ?? 'auto');
  if (typeof t === 'object' && !Array.isArray(t)) return parseTemplate(JSON.stringify(t), 'json');
  throw new OneError('E_VALIDATION', "'template' must be a string or an object", { field: 'template' });
}
