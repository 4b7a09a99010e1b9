import {
  Checkbox,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Slider,
  Switch,
  TextArea,
  TextInput,
} from '@patternfly/react-core';
import type { UserInputDescriptor } from '../api';
import { optionsText } from '../lib/answers';

type UserInput = UserInputDescriptor;

/**
 * The form OpenNebula generates from a template's USER_INPUTS: one control per
 * input type, labelled with the input's description, required when mandatory
 * without a default. Values are the answers as strings, as the API takes them.
 */
export function UserInputsForm({
  inputs,
  values,
  errors,
  onChange,
  idPrefix,
}: {
  inputs: readonly UserInput[];
  values: Record<string, string>;
  errors: Record<string, string>;
  onChange: (name: string, value: string) => void;
  idPrefix: string;
}) {
  return (
    <>
      {inputs.map((input) => {
        const id = `${idPrefix}-${input.name}`;
        const error = errors[input.name];
        const value = values[input.name] ?? '';
        const label = input.description || input.name;
        const required = input.mandatory && input.default === undefined && input.type !== 'fixed';
        return (
          <FormGroup
            key={input.name}
            label={label}
            fieldId={id}
            isRequired={required}
            {...(input.type === 'list-multiple' ? { role: 'group', isStack: true } : {})}
            data-input={input.name}
            data-type={input.type}
          >
            <InputControl
              id={id}
              input={input}
              value={value}
              invalid={!!error}
              onChange={(v) => onChange(input.name, v)}
            />
            <FormHelperText>
              <HelperText>
                {error ? (
                  <HelperTextItem variant="error" id={`${id}-helper`}>
                    {error}
                  </HelperTextItem>
                ) : (
                  <HelperTextItem id={`${id}-helper`}>
                    <code>${input.name}</code> · {input.type}
                    {input.type === 'range' || input.type === 'range-float' ? ` ${optionsText(input)}` : ''}
                    {input.type === 'text64' ? ' (sent base64-encoded)' : ''}
                    {input.type === 'fixed' ? ' (fixed by the template)' : ''}
                  </HelperTextItem>
                )}
              </HelperText>
            </FormHelperText>
          </FormGroup>
        );
      })}
    </>
  );
}

function InputControl({
  id,
  input,
  value,
  invalid,
  onChange,
}: {
  id: string;
  input: UserInput;
  value: string;
  invalid: boolean;
  onChange: (v: string) => void;
}) {
  const validated = invalid ? 'error' : 'default';
  const described = { 'aria-describedby': `${id}-helper` };
  switch (input.type) {
    case 'text':
      return <TextInput id={id} value={value} validated={validated} onChange={(_e, v) => onChange(v)} {...described} />;
    case 'password':
      return (
        <TextInput
          id={id}
          type="password"
          autoComplete="new-password"
          value={value}
          validated={validated}
          onChange={(_e, v) => onChange(v)}
          {...described}
        />
      );
    case 'text64':
      return (
        <TextArea
          id={id}
          value={value}
          validated={validated}
          resizeOrientation="vertical"
          onChange={(_e, v) => onChange(v)}
          {...described}
        />
      );
    case 'number':
    case 'number-float':
      return (
        <TextInput
          id={id}
          type="number"
          step={input.type === 'number' ? 1 : 'any'}
          value={value}
          validated={validated}
          onChange={(_e, v) => onChange(v)}
          {...described}
        />
      );
    case 'range':
    case 'range-float': {
      const { min, max } = input.options;
      const step = input.type === 'range' ? 1 : Math.max((max - min) / 100, 0.001);
      const current = value === '' ? min : Number(value);
      return (
        <Slider
          id={id}
          min={min}
          max={max}
          step={step}
          value={Number.isFinite(current) ? current : min}
          inputValue={Number.isFinite(current) ? current : min}
          isInputVisible
          showBoundaries={false}
          thumbAriaLabel={input.description || input.name}
          inputAriaLabel={`${input.description || input.name} value`}
          onChange={(_e, v, inputValue) => {
            const n = inputValue ?? v;
            onChange(String(input.type === 'range' ? Math.round(n) : n));
          }}
        />
      );
    }
    case 'list':
      return (
        <FormSelect id={id} value={value} validated={validated} onChange={(_e, v) => onChange(v)} {...described}>
          {(!input.mandatory || value === '') && <FormSelectOption value="" label="—" />}
          {input.options.map((c) => (
            <FormSelectOption key={c} value={c} label={c} />
          ))}
        </FormSelect>
      );
    case 'list-multiple': {
      const chosen = new Set(value.split(',').filter(Boolean));
      return (
        <div id={id} className="oe-checkgroup" {...described}>
          {input.options.map((c) => (
            <Checkbox
              key={c}
              id={`${id}-${c}`}
              label={c}
              isChecked={chosen.has(c)}
              onChange={(_e, on) => {
                const next = input.options.filter((x) => (x === c ? on : chosen.has(x)));
                onChange(next.join(','));
              }}
            />
          ))}
        </div>
      );
    }
    case 'boolean':
      return (
        <Switch
          id={id}
          label={value.toUpperCase() === 'YES' ? 'YES' : 'NO'}
          aria-label={input.description || input.name}
          isChecked={value.toUpperCase() === 'YES'}
          onChange={(_e, on) => onChange(on ? 'YES' : 'NO')}
          {...described}
        />
      );
    case 'fixed':
      return <TextInput id={id} value={input.default ?? ''} readOnlyVariant="default" {...described} />;
  }
}
