import type { LabelColor } from '../lib/states';
import {
  genericStateColor,
  hostShortState,
  hostStateColor,
  vmLongState,
  vmShortState,
  vmStateColor,
} from '../lib/states';

interface StateCarrier {
  state?: string | undefined;
  lcm_state?: string | undefined;
}

/**
 * A compact filled label in PatternFly's colours, as one light span.
 * PatternFly's Label measures its text on mount (a forced layout per label)
 * and carries dozens of custom properties per element; a virtual table that
 * brings in 30 fresh labels a frame cannot afford either.
 */
export function Badge({
  color,
  text,
  title,
  state,
}: {
  color: LabelColor;
  text: string;
  title?: string | undefined;
  state?: string | undefined;
}) {
  return (
    <span className={`oe-badge oe-badge-${color}`} title={title} data-state={state}>
      {text}
    </span>
  );
}

/** `runn` in green, `pend` in blue …; the full STATE/LCM_STATE is the tooltip and the accessible text. */
export function VmStateLabel({ vm }: { vm: StateCarrier }) {
  const long = vmLongState(vm);
  return (
    <>
      <Badge color={vmStateColor(vm)} text={vmShortState(vm)} title={long} state={long} />
      <span className="oe-visually-hidden"> {long}</span>
    </>
  );
}

export function HostStateLabel({ state }: { state: string | undefined }) {
  return <Badge color={hostStateColor(state)} text={hostShortState(state)} title={state} state={state} />;
}

export function StateLabel({ state }: { state: string | undefined }) {
  if (!state) return null;
  return <Badge color={genericStateColor(state)} text={state} state={state} />;
}
