import { type CSSProperties, useMemo, useRef } from 'react';
import { type ErrorInfo, errorPosition } from '../lib/errors';

export interface EditorMarker {
  line: number;
  column: number;
  message: string;
}

/** Every position an API template error names: the first, plus `details.errors` of E_TEMPLATE_INVALID. */
export function markersFromError(error: ErrorInfo | undefined): EditorMarker[] {
  if (!error) return [];
  const out: EditorMarker[] = [];
  const list = Array.isArray(error.details.errors) ? (error.details.errors as unknown[]) : [];
  for (const e of list) {
    const issue = e as { line?: unknown; column?: unknown; message?: unknown; attribute?: unknown };
    if (typeof issue.line === 'number') {
      out.push({
        line: issue.line,
        column: typeof issue.column === 'number' ? issue.column : 1,
        message: `${String(issue.attribute ?? '')}: ${String(issue.message ?? '')}`,
      });
    }
  }
  if (out.length === 0) {
    const at = errorPosition(error);
    if (at) out.push({ ...at, message: error.message });
  }
  return out;
}

const LINE_PX = 20;
const PAD_PX = 8;

/**
 * A plain textarea with a line-number gutter for templates in native syntax,
 * YAML or JSON. Error markers highlight their line (gutter and text) and put
 * a caret under the column; the gutter and highlight layer follow the
 * textarea's scrolling without re-rendering.
 */
export function TemplateEditor({
  id,
  value,
  onChange,
  markers = [],
  readOnly = false,
  rows = 18,
  label,
}: {
  id: string;
  value: string;
  onChange?: (text: string) => void;
  markers?: readonly EditorMarker[];
  readOnly?: boolean;
  rows?: number;
  label: string;
}) {
  const gutterRef = useRef<HTMLDivElement>(null);
  const layerRef = useRef<HTMLDivElement>(null);
  const lineCount = useMemo(() => value.split('\n').length, [value]);
  const errorLines = useMemo(() => new Set(markers.map((m) => m.line)), [markers]);
  const first = markers[0];
  const height = rows * LINE_PX + 2 * PAD_PX;

  const numbers = useMemo(() => {
    const out = [];
    for (let n = 1; n <= lineCount; n++) {
      out.push(
        <div key={n} className={errorLines.has(n) ? 'oe-gutter-line oe-gutter-error' : 'oe-gutter-line'}>
          {n}
        </div>,
      );
    }
    return out;
  }, [lineCount, errorLines]);

  return (
    <div
      className="oe-editor"
      style={{ '--oe-line': `${LINE_PX}px`, '--oe-pad': `${PAD_PX}px`, height } as CSSProperties}
      data-error-line={first?.line}
      data-error-column={first?.column}
    >
      <div className="oe-gutter" ref={gutterRef} aria-hidden="true">
        <div className="oe-gutter-inner">{numbers}</div>
      </div>
      <div className="oe-editor-main">
        <div className="oe-editor-layer" ref={layerRef} aria-hidden="true">
          {markers.map((m) => (
            <div
              key={`${m.line}:${m.column}`}
              className="oe-editor-errline"
              style={{ top: PAD_PX + (m.line - 1) * LINE_PX }}
              title={m.message}
            >
              <span className="oe-editor-caret" style={{ left: `calc(${PAD_PX}px + ${m.column - 1}ch)` }} />
            </div>
          ))}
        </div>
        <textarea
          id={id}
          aria-label={label}
          aria-invalid={markers.length > 0}
          aria-describedby={markers.length > 0 ? `${id}-error` : undefined}
          className="oe-editor-text"
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          readOnly={readOnly}
          value={value}
          onChange={(e) => onChange?.(e.target.value)}
          onScroll={(e) => {
            const { scrollTop, scrollLeft } = e.currentTarget;
            if (gutterRef.current) gutterRef.current.scrollTop = scrollTop;
            if (layerRef.current) layerRef.current.style.transform = `translate(${-scrollLeft}px, ${-scrollTop}px)`;
          }}
        />
      </div>
      {first && (
        <div id={`${id}-error`} className="oe-visually-hidden">
          Error at line {first.line}, column {first.column}: {first.message}
        </div>
      )}
    </div>
  );
}
