import { Alert, Button, Flex, FlexItem, Form, FormGroup, FormSelect, FormSelectOption } from '@patternfly/react-core';
import { useId, useState } from 'react';
import { type ApiObject, type ObjectKind, parseTemplate, serializeTemplate, type TemplateFormat } from '../api';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert } from './error-alert';
import { markersFromError, TemplateEditor } from './template-editor';
import { useToast } from './toasts';

export type FormatChoice = TemplateFormat | 'auto';

/**
 * The template text editor with its format choice, a syntax check that runs
 * in the browser (the same parser the server uses, through src/client), and
 * the last error — from the check or from the API — marked at its line.
 */
export function TemplateTextField({
  text,
  onText,
  format,
  onFormat,
  error,
  rows,
}: {
  text: string;
  onText: (t: string) => void;
  format: FormatChoice;
  onFormat: (f: FormatChoice) => void;
  error: { info: ErrorInfo; source: 'api' | 'check' } | undefined;
  rows?: number;
}) {
  const uid = useId().replace(/:/g, '');
  const [checked, setChecked] = useState<string | undefined>(undefined);
  const [localError, setLocalError] = useState<ErrorInfo | undefined>(undefined);
  const shown = localError ? { info: localError, source: 'check' as const } : error;
  const markers = markersFromError(shown?.info);

  return (
    <>
      <Flex alignItems={{ default: 'alignItemsFlexEnd' }} spaceItems={{ default: 'spaceItemsMd' }}>
        <FlexItem>
          <FormGroup label="Syntax" fieldId={`${uid}-format`}>
            <FormSelect id={`${uid}-format`} value={format} onChange={(_e, v) => onFormat(v as FormatChoice)}>
              <FormSelectOption value="auto" label="Detect" />
              <FormSelectOption value="native" label="OpenNebula" />
              <FormSelectOption value="yaml" label="YAML" />
              <FormSelectOption value="json" label="JSON" />
            </FormSelect>
          </FormGroup>
        </FlexItem>
        <FlexItem>
          <Button
            variant="secondary"
            onClick={() => {
              try {
                const parsed = parseTemplate(text, format);
                setLocalError(undefined);
                setChecked(`Parses as ${parsed.format}: ${Object.keys(parsed.template).length} attribute(s).`);
              } catch (err) {
                setChecked(undefined);
                setLocalError(toErrorInfo(err));
              }
            }}
          >
            Check syntax
          </Button>
        </FlexItem>
      </Flex>
      {shown && (
        <div className="oe-editor-error" data-testid="editor-error">
          <ErrorAlert
            error={shown.info}
            title={
              shown.source === 'api' ? 'Not saved — the API refused the template' : 'Syntax check (in the browser)'
            }
          />
        </div>
      )}
      <FormGroup label="Template" fieldId={`${uid}-text`} className="oe-spaced-sm">
        <TemplateEditor
          id={`${uid}-text`}
          label="Template text"
          value={text}
          onChange={(t) => {
            setChecked(undefined);
            setLocalError(undefined);
            onText(t);
          }}
          markers={markers}
          rows={rows ?? Math.min(24, Math.max(8, text.split('\n').length + 2))}
        />
      </FormGroup>
      {checked && <Alert variant="success" isInline isPlain title={checked} />}
    </>
  );
}

/** Edits in place; saves with If-Match, so a change made meanwhile is reported, not overwritten. */
export function EditableTemplate({ kind, object: tpl }: { kind: ObjectKind; object: ApiObject }) {
  const { client } = useSession();
  const toast = useToast();
  const [base, setBase] = useState(tpl.revision);
  const [text, setText] = useState(() => serializeTemplate(tpl.template, 'native'));
  const [dirty, setDirty] = useState(false);
  const [format, setFormat] = useState<FormatChoice>('auto');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  // A change from elsewhere replaces the text unless the user is editing it.
  if (!dirty && tpl.revision !== base) {
    setBase(tpl.revision);
    setText(serializeTemplate(tpl.template, 'native'));
  }

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const updated = await client.update(kind, tpl.id, { template: text, format }, base);
      setBase(updated.revision);
      setDirty(false);
      toast({ variant: 'success', title: `Saved ${kind} ${tpl.id} (revision ${updated.revision})` });
    } catch (err) {
      setError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="oe-tab-body">
      {dirty && tpl.revision !== base && (
        <ErrorAlert
          error={{
            code: 'E_REVISION_MISMATCH',
            message: `it changed on the server (revision ${tpl.revision}) while you were editing revision ${base}`,
            details: {},
          }}
        />
      )}
      <Form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <TemplateTextField
          text={text}
          onText={(t) => {
            setText(t);
            setDirty(true);
          }}
          format={format}
          onFormat={setFormat}
          error={error ? { info: error, source: 'api' } : undefined}
        />
        <Flex spaceItems={{ default: 'spaceItemsSm' }}>
          <FlexItem>
            <Button type="submit" variant="primary" isDisabled={!dirty || busy} isLoading={busy}>
              Save
            </Button>
          </FlexItem>
          <FlexItem>
            <Button
              variant="link"
              isDisabled={!dirty}
              onClick={() => {
                setText(serializeTemplate(tpl.template, 'native'));
                setBase(tpl.revision);
                setDirty(false);
                setError(undefined);
              }}
            >
              Discard changes
            </Button>
          </FlexItem>
        </Flex>
      </Form>
    </div>
  );
}
