import {
  Button,
  FormSelect,
  FormSelectOption,
  PageSection,
  SearchInput,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { useDeferredValue, useMemo, useState } from 'react';
import type { ApiObject, OneEdgeClient, VmAction } from '../api';
import { ConfirmModal } from '../components/confirm-modal';
import { ErrorAlert } from '../components/error-alert';
import { InstantiateModal } from '../components/instantiate-modal';
import { PageHeader } from '../components/page-header';
import { VmStateLabel } from '../components/state-label';
import { useToast } from '../components/toasts';
import { type Column, filterRows, VirtualTable } from '../components/virtual-table';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { toErrorInfo } from '../lib/errors';
import { formatEpochSeconds, formatTime } from '../lib/format';
import { VM_STATE_GROUPS, vmLongState, vmShortState, vmStateGroup } from '../lib/states';
import { Link } from '../router';

type Vm = ApiObject<'vm'>;

export const VM_COLUMNS: Column<Vm>[] = [
  { key: 'id', title: 'ID', width: '6rem', render: (v) => v.id, text: (v) => String(v.id), sort: (v) => v.id },
  {
    key: 'name',
    title: 'Name',
    render: (v) => (
      <Link to={`/vms/${v.id}`} className="oe-name-link">
        {v.name}
      </Link>
    ),
    text: (v) => v.name,
  },
  { key: 'owner', title: 'Owner', width: '8rem', render: (v) => v.uname, text: (v) => v.uname },
  { key: 'group', title: 'Group', width: '8rem', render: (v) => v.gname, text: (v) => v.gname },
  {
    key: 'state',
    title: 'Status',
    width: '8rem',
    render: (v) => <VmStateLabel vm={v} />,
    text: (v) => `${vmShortState(v)} ${vmLongState(v)}`,
    sort: (v) => vmShortState(v),
  },
  { key: 'host', title: 'Host', width: '10rem', render: (v) => v.host_name ?? '', text: (v) => v.host_name ?? '' },
  {
    key: 'started',
    title: 'Started',
    width: '11.5rem',
    render: (v) => startedText(v),
    text: (v) => startedText(v),
    sort: (v) => v.stime || v.created_at / 1000,
  },
];

function startedText(v: Vm): string {
  return v.stime ? formatEpochSeconds(v.stime) : formatTime(v.created_at);
}

/** The bulk actions of Sunstone's VM tab; the destructive ones ask first. */
const BULK: { action: VmAction; label: string; destructive: boolean }[] = [
  { action: 'hold', label: 'Hold', destructive: false },
  { action: 'release', label: 'Release', destructive: false },
  { action: 'resume', label: 'Resume', destructive: false },
  { action: 'poweroff', label: 'Power off', destructive: true },
  { action: 'reboot', label: 'Reboot', destructive: true },
  { action: 'terminate', label: 'Terminate', destructive: true },
];

/** Runs one action on many VMs, eight at a time; returns the failures as text. */
export async function runBulk(client: OneEdgeClient, ids: readonly number[], action: VmAction): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        await client.vmAction(id, action);
      } catch (err) {
        const e = toErrorInfo(err);
        failures.push(`VM ${id}: ${e.message} (${e.code})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
  return failures;
}

/**
 * The VM list: virtualised (20,000 rows stay smooth), filtered as you type,
 * live through the event stream, with bulk actions and create-from-template.
 */
export function VmsPage() {
  const { client } = useSession();
  const toast = useToast();
  const pool = usePool('vm');
  const [filter, setFilter] = useState('');
  const [stateFilter, setStateFilter] = useState('');
  const deferredFilter = useDeferredValue(filter);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [creating, setCreating] = useState(false);
  const [confirm, setConfirm] = useState<(typeof BULK)[number] | undefined>(undefined);

  const byState = useMemo(
    () => (stateFilter ? pool.items.filter((v) => vmStateGroup(v) === stateFilter) : pool.items),
    [pool.items, stateFilter],
  );
  const rows = useMemo(() => filterRows(byState, VM_COLUMNS, deferredFilter), [byState, deferredFilter]);
  const chosen = useMemo(() => {
    const present = new Set(pool.items.map((v) => v.id));
    return [...selected].filter((id) => present.has(id));
  }, [selected, pool.items]);

  const run = async (b: (typeof BULK)[number]) => {
    const failures = await runBulk(client, chosen, b.action);
    const ok = chosen.length - failures.length;
    if (ok > 0) toast({ variant: 'success', title: `${b.label}: requested for ${ok} VM(s)` });
    if (failures.length > 0) {
      toast({
        variant: 'danger',
        title: `${b.label} failed for ${failures.length} VM(s)`,
        body: (
          <ul className="oe-failures">
            {failures.slice(0, 10).map((f) => (
              <li key={f}>{f}</li>
            ))}
            {failures.length > 10 && <li>… and {failures.length - 10} more</li>}
          </ul>
        ),
      });
    }
  };

  return (
    <>
      <PageHeader
        title="VMs"
        description="Virtual machines and containers; state changes arrive live from the event stream."
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            Create VM
          </Button>
        }
      />
      <PageSection>
        {pool.error && <ErrorAlert error={pool.error} title="Cannot list VMs" />}
        <Toolbar>
          <ToolbarContent>
            <ToolbarGroup>
              <ToolbarItem>
                <SearchInput
                  aria-label="Filter VMs"
                  placeholder="Filter by name, owner, state, host…"
                  value={filter}
                  onChange={(_e, v) => setFilter(v)}
                  onClear={() => setFilter('')}
                />
              </ToolbarItem>
              <ToolbarItem>
                <FormSelect aria-label="State" value={stateFilter} onChange={(_e, v) => setStateFilter(v)}>
                  <FormSelectOption value="" label="All states" />
                  {VM_STATE_GROUPS.map((g) => (
                    <FormSelectOption key={g} value={g} label={g.toLowerCase()} />
                  ))}
                </FormSelect>
              </ToolbarItem>
            </ToolbarGroup>
            <ToolbarGroup variant="action-group" aria-label="Actions on the selected VMs" role="group">
              {BULK.map((b) => (
                <ToolbarItem key={b.action}>
                  <Button
                    variant={b.action === 'terminate' ? 'danger' : 'secondary'}
                    isDisabled={chosen.length === 0}
                    onClick={() => (b.destructive ? setConfirm(b) : void run(b))}
                    data-action={b.action}
                  >
                    {b.label}
                  </Button>
                </ToolbarItem>
              ))}
            </ToolbarGroup>
            <ToolbarItem align={{ default: 'alignEnd' }}>
              <span className="oe-count" data-testid="row-count" aria-live="polite">
                {pool.loading && pool.items.length === 0
                  ? 'Loading…'
                  : `${rows.length} of ${pool.items.length}${chosen.length ? ` · ${chosen.length} selected` : ''}`}
              </span>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <VirtualTable
          ariaLabel="VMs"
          rows={rows}
          columns={VM_COLUMNS}
          selection={{ selected, onChange: setSelected }}
          rowHref={(v) => `/vms/${v.id}`}
          empty={pool.loading ? 'Loading…' : 'No VMs. Create one from a template.'}
        />
      </PageSection>
      {creating && (
        <InstantiateModal
          onClose={() => setCreating(false)}
          onCreated={(vms) =>
            toast({ variant: 'success', title: `Created ${vms.length} VM(s): ${vms.map((v) => v.id).join(', ')}` })
          }
        />
      )}
      {confirm && (
        <ConfirmModal
          title={`${confirm.label} ${chosen.length} VM(s)?`}
          confirmLabel={confirm.label}
          onConfirm={() => run(confirm)}
          onClose={() => setConfirm(undefined)}
        >
          {confirm.action === 'terminate'
            ? 'The VMs are shut down and deleted with their non-persistent disks. This cannot be undone.'
            : confirm.action === 'poweroff'
              ? 'The guests are asked to power off (ACPI); their files and host capacity are kept.'
              : 'The guests are asked to reboot (ACPI).'}
          <p className="oe-confirm-list">
            VMs:{' '}
            {chosen
              .slice(0, 20)
              .map((id) => `#${id}`)
              .join(', ')}
            {chosen.length > 20 ? ` … and ${chosen.length - 20} more` : ''}
          </p>
        </ConfirmModal>
      )}
    </>
  );
}
