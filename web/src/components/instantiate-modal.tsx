import {
  Alert,
  Button,
  Checkbox,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  NumberInput,
  TextInput,
} from '@patternfly/react-core';
import { useId, useMemo, useState } from 'react';
import { type ApiObject, readUserInputs } from '../api';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { answersToSend, checkAnswer, initialAnswers } from '../lib/answers';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert, ScrollIntoView } from './error-alert';
import { UserInputsForm } from './user-inputs-form';

/**
 * `onetemplate instantiate` as a dialog: pick a template (unless given), name
 * the VM(s), how many, on hold or not, and answer its USER_INPUTS through a
 * generated form. The new VMs arrive in the lists through the event stream.
 */
export function InstantiateModal({
  template: fixedTemplate,
  onClose,
  onCreated,
}: {
  template?: ApiObject<'template'>;
  onClose: () => void;
  onCreated: (vms: ApiObject<'vm'>[]) => void;
}) {
  const { client } = useSession();
  const uid = useId().replace(/:/g, '');
  const templates = usePool('template');
  const [chosenId, setChosenId] = useState<number | undefined>(fixedTemplate?.id);
  const template = fixedTemplate ?? templates.items.find((t) => t.id === chosenId);
  const { inputs, problems } = useMemo(() => {
    if (!template) return { inputs: [], problems: [] };
    const { inputs, issues } = readUserInputs(template.template);
    return { inputs, problems: issues };
  }, [template]);
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const [answersFor, setAnswersFor] = useState<number | undefined>(undefined);
  if (template && answersFor !== template.id) {
    setAnswersFor(template.id);
    setAnswers(initialAnswers(inputs));
  }
  const [name, setName] = useState('');
  const [multiple, setMultiple] = useState<number | ''>(1);
  const [hold, setHold] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    if (!template) return;
    const errs: Record<string, string> = {};
    for (const i of inputs) {
      const problem = checkAnswer(i, answers[i.name] ?? '');
      if (problem) errs[i.name] = problem;
    }
    setFieldErrors(errs);
    if (Object.keys(errs).length > 0) return;
    const count = multiple === '' ? 1 : multiple;
    setBusy(true);
    setError(undefined);
    try {
      const vms = await client.instantiate(template.id, {
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(count > 1 ? { multiple: count } : {}),
        ...(hold ? { hold: true } : {}),
        user_inputs: answersToSend(inputs, answers),
      });
      onCreated(vms);
      onClose();
    } catch (err) {
      const info = toErrorInfo(err);
      const input = typeof info.details.input === 'string' ? info.details.input : undefined;
      if (input) setFieldErrors({ [input]: `${info.message} (${info.code})` });
      setError(info);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby={`${uid}-title`}>
      <ModalHeader
        title={template ? `Instantiate ${template.name}` : 'Create VM from a template'}
        labelId={`${uid}-title`}
        description="The VMs are created PENDING (or on HOLD) and wait for the scheduler."
      />
      <ModalBody>
        <Form
          id={`${uid}-form`}
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          {!fixedTemplate && (
            <FormGroup label="Template" fieldId={`${uid}-tpl`} isRequired>
              <FormSelect
                id={`${uid}-tpl`}
                value={chosenId === undefined ? '' : String(chosenId)}
                onChange={(_e, v) => setChosenId(v === '' ? undefined : Number(v))}
              >
                <FormSelectOption value="" label={templates.loading ? 'Loading…' : 'Choose a template'} isDisabled />
                {templates.items.map((t) => (
                  <FormSelectOption key={t.id} value={String(t.id)} label={`${t.id}: ${t.name}`} />
                ))}
              </FormSelect>
            </FormGroup>
          )}
          <FormGroup label="VM name" fieldId={`${uid}-name`}>
            <TextInput
              id={`${uid}-name`}
              value={name}
              placeholder={template ? `${template.name}-<id>` : ''}
              onChange={(_e, v) => setName(v)}
              aria-describedby={`${uid}-name-help`}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem id={`${uid}-name-help`}>
                  Optional; <code>%i</code> becomes the index when creating several.
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Number of instances" fieldId={`${uid}-multiple`}>
            <NumberInput
              id={`${uid}-multiple`}
              value={multiple}
              min={1}
              max={1000}
              inputName="multiple"
              inputAriaLabel="Number of instances"
              minusBtnAriaLabel="fewer instances"
              plusBtnAriaLabel="more instances"
              onMinus={() => setMultiple((m) => Math.max(1, (m === '' ? 1 : m) - 1))}
              onPlus={() => setMultiple((m) => Math.min(1000, (m === '' ? 1 : m) + 1))}
              onChange={(e) => {
                const v = (e.target as HTMLInputElement).value;
                setMultiple(v === '' ? '' : Math.max(1, Math.min(1000, Math.floor(Number(v)) || 1)));
              }}
            />
          </FormGroup>
          <Checkbox
            id={`${uid}-hold`}
            label="Create on hold (the scheduler ignores it until released)"
            isChecked={hold}
            onChange={(_e, on) => setHold(on)}
          />
          {problems.length > 0 && (
            <Alert variant="warning" isInline title="Some USER_INPUTS definitions are malformed">
              {problems.map((p) => (
                <div key={p.attribute}>
                  {p.attribute}: {p.message}
                </div>
              ))}
            </Alert>
          )}
          {inputs.length > 0 && (
            <fieldset className="oe-fieldset">
              <legend>User inputs</legend>
              <UserInputsForm
                idPrefix={`${uid}-ui`}
                inputs={inputs}
                values={answers}
                errors={fieldErrors}
                onChange={(n, v) => setAnswers((a) => ({ ...a, [n]: v }))}
              />
            </fieldset>
          )}
          {error && <ErrorAlert error={error} title="Cannot instantiate" />}
          {error && <ScrollIntoView key={error.message} />}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" type="submit" form={`${uid}-form`} isDisabled={!template || busy} isLoading={busy}>
          Instantiate
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
