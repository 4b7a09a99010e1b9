import { ToggleGroup, ToggleGroupItem } from '@patternfly/react-core';
import { useMemo, useState } from 'react';
import { serializeTemplate, type Template, type TemplateFormat } from '../api';
import { toErrorInfo } from '../lib/errors';
import { TemplateEditor } from './template-editor';

/** A stored template shown read-only in native syntax (or YAML/JSON), serialised by the client's own serializer. */
export function TemplateView({ id, template, label }: { id: string; template: Template; label: string }) {
  const [format, setFormat] = useState<TemplateFormat>('native');
  const text = useMemo(() => {
    try {
      return serializeTemplate(template, format);
    } catch (err) {
      const e = toErrorInfo(err);
      return `# cannot show as ${format}: ${e.message} (${e.code})\n${JSON.stringify(template, null, 2)}`;
    }
  }, [template, format]);
  return (
    <div className="oe-template-view">
      <ToggleGroup aria-label={`${label} format`} className="oe-format-toggle">
        {(['native', 'yaml', 'json'] as const).map((f) => (
          <ToggleGroupItem
            key={f}
            text={f === 'native' ? 'OpenNebula' : f.toUpperCase()}
            buttonId={`${id}-${f}`}
            isSelected={format === f}
            onChange={() => setFormat(f)}
          />
        ))}
      </ToggleGroup>
      <TemplateEditor
        id={id}
        label={label}
        value={text}
        readOnly
        rows={Math.min(24, Math.max(6, text.split('\n').length))}
      />
    </div>
  );
}
