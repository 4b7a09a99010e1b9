import {
  Button,
  Card,
  CardBody,
  CardTitle,
  Flex,
  FlexItem,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Gallery,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  PageSection,
  Spinner,
  Tab,
  Tabs,
  TabTitleText,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useId, useState } from 'react';
import { type ApiObject, VM_ACTIONS, type VmAction } from '../api';
import { Facts, single, VectorTable, vectors } from '../components/attributes';
import { ConfirmModal } from '../components/confirm-modal';
import { ErrorAlert } from '../components/error-alert';
import { VmMonitoringPanel } from '../components/monitoring-panels';
import { NameLink } from '../components/name-link';
import { OwnershipActions } from '../components/object-actions';
import { PageHeader } from '../components/page-header';
import { VmStateLabel } from '../components/state-label';
import { TemplateView } from '../components/template-view';
import { useToast } from '../components/toasts';
import { VmLog } from '../components/vm-log';
import { VmLogFollow } from '../components/vm-log-follow';
import { hasVncGraphics, VncConsole } from '../components/vnc-console';
import { useLoader, useObject, usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { formatEpochSeconds, formatMb, formatTime, num } from '../lib/format';
import { vmLongState } from '../lib/states';
import { Link } from '../router';

type Vm = ApiObject<'vm'>;

/** Actions that destroy or interrupt something: they ask first. */
const CONFIRM: ReadonlySet<VmAction> = new Set<VmAction>([
  'terminate',
  'terminate-hard',
  'poweroff',
  'poweroff-hard',
  'undeploy',
  'undeploy-hard',
  'reboot',
  'reboot-hard',
  'stop',
  'suspend',
  'recover-success',
  'recover-failure',
  'recover-delete',
  'recover-recreate',
]);

/** Shown in the header when allowed; everything allowed is in the Actions tab. */
const QUICK: readonly VmAction[] = ['release', 'hold', 'resume', 'poweroff', 'reboot', 'terminate'];

function label(action: VmAction): string {
  const s = action.replace(/-/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function VmDetailPage({ id }: { id: number }) {
  const { client, user } = useSession();
  const toast = useToast();
  const { object: vm, error, deleted, loading } = useObject('vm', id);
  const [tab, setTab] = useState<string | number>('info');
  const [pending, setPending] = useState<VmAction | undefined>(undefined);
  const [actionError, setActionError] = useState<ErrorInfo | undefined>(undefined);
  const allowed = useLoader(`${id}:${vm?.revision ?? -1}`, () =>
    vm ? client.vmAllowedActions(id) : Promise.resolve([] as VmAction[]),
  );
  const actions = (allowed.data ?? []).filter((a) => user.admin || !VM_ACTIONS[a].adminOnly);

  const run = async (action: VmAction, params: { host_id?: number } = {}) => {
    setActionError(undefined);
    try {
      await client.vmAction(id, action, params);
      toast({ variant: 'success', title: `${label(action)} requested for VM ${id}` });
    } catch (err) {
      const e = toErrorInfo(err);
      setActionError(e);
      throw err;
    }
  };
  const start = (action: VmAction) => {
    if (VM_ACTIONS[action].needsHost || CONFIRM.has(action)) setPending(action);
    else void run(action).catch(() => {});
  };

  if (!vm) {
    return (
      <>
        <PageHeader title={`VM ${id}`} crumbs={[{ to: '/vms', label: 'VMs' }]} />
        <PageSection>
          {loading ? <Spinner aria-label="Loading VM" /> : error && <ErrorAlert error={error} />}
        </PageSection>
      </>
    );
  }

  return (
    <>
      <PageHeader
        title={vm.name}
        crumbs={[{ to: '/vms', label: 'VMs' }]}
        badge={
          <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <FlexItem className="oe-muted">#{vm.id}</FlexItem>
            <FlexItem data-testid="vm-state">
              <VmStateLabel vm={vm} />
            </FlexItem>
            {vm.host_name && <FlexItem className="oe-muted">on {vm.host_name}</FlexItem>}
          </Flex>
        }
        actions={
          <Flex spaceItems={{ default: 'spaceItemsSm' }} aria-label="VM actions" role="group">
            {QUICK.filter((a) => actions.includes(a)).map((a) => (
              <FlexItem key={a}>
                <Button variant={a === 'terminate' ? 'danger' : 'secondary'} onClick={() => start(a)} data-action={a}>
                  {label(a)}
                </Button>
              </FlexItem>
            ))}
          </Flex>
        }
      />
      <PageSection>
        {deleted && <ErrorAlert error={{ code: 'E_NOT_FOUND', message: 'this VM was deleted', details: {} }} />}
        {vm.state === 'DONE' && (
          <ErrorAlert error={{ code: 'DONE', message: 'this VM is terminated (DONE)', details: {} }} />
        )}
        {actionError && (
          <ErrorAlert error={actionError} title="Action failed" onClose={() => setActionError(undefined)} />
        )}
        <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="VM details" mountOnEnter>
          <Tab eventKey="info" title={<TabTitleText>Info</TabTitleText>}>
            <InfoTab vm={vm} />
          </Tab>
          <Tab eventKey="capacity" title={<TabTitleText>Capacity</TabTitleText>}>
            <CapacityTab vm={vm} />
          </Tab>
          <Tab eventKey="storage" title={<TabTitleText>Storage</TabTitleText>}>
            <div className="oe-tab-body">
              <VectorTable
                ariaLabel="Disks"
                rows={vectors(vm.template, 'DISK')}
                preferred={['DISK_ID', 'IMAGE_ID', 'IMAGE', 'TYPE', 'SIZE', 'TARGET', 'DEV_PREFIX', 'DRIVER', 'FORMAT']}
                empty="No disks"
              />
            </div>
          </Tab>
          <Tab eventKey="network" title={<TabTitleText>Network</TabTitleText>}>
            <div className="oe-tab-body">
              <VectorTable
                ariaLabel="Network interfaces"
                rows={vectors(vm.template, 'NIC')}
                preferred={['NIC_ID', 'NETWORK_ID', 'NETWORK', 'IP', 'MAC', 'BRIDGE', 'MODEL']}
                empty="No network interfaces"
              />
            </div>
          </Tab>
          <Tab eventKey="monitoring" title={<TabTitleText>Monitoring</TabTitleText>}>
            <div className="oe-tab-body">{tab === 'monitoring' ? <VmMonitoringPanel vm={vm} /> : null}</div>
          </Tab>
          <Tab eventKey="log" title={<TabTitleText>Log</TabTitleText>}>
            <div className="oe-tab-body">{tab === 'log' ? <VmLog vmId={vm.id} revision={vm.revision} /> : null}</div>
          </Tab>
          <Tab eventKey="console" title={<TabTitleText>Console</TabTitleText>}>
            <div className="oe-tab-body">
              {tab !== 'console' ? null : hasVncGraphics(vm) ? (
                <VncConsole vm={vm} />
              ) : (
                <>
                  <p className="oe-muted">
                    This VM has no VNC console (GRAPHICS = [ TYPE = VNC ]): its workload's output, live.
                  </p>
                  <VmLogFollow vm={vm} />
                </>
              )}
            </div>
          </Tab>
          <Tab eventKey="placement" title={<TabTitleText>Placement</TabTitleText>}>
            <PlacementTab vm={vm} />
          </Tab>
          <Tab eventKey="template" title={<TabTitleText>Template</TabTitleText>}>
            <div className="oe-tab-body">
              <TemplateView id="vm-template" template={vm.template} label="VM template" />
              {Object.keys(vm.user_template).length > 0 && (
                <>
                  <h3 className="oe-subhead">User template</h3>
                  <TemplateView id="vm-user-template" template={vm.user_template} label="User template" />
                </>
              )}
            </div>
          </Tab>
          <Tab eventKey="actions" title={<TabTitleText>Actions</TabTitleText>}>
            <div className="oe-tab-body">
              {allowed.error && <ErrorAlert error={allowed.error} title="Cannot read the allowed actions" />}
              <p className="oe-muted">
                Allowed now, in {vmLongState(vm)}
                {user.admin ? '' : ' (administrator-only actions hidden)'}:
              </p>
              <Table aria-label="Allowed actions" variant="compact">
                <Thead>
                  <Tr>
                    <Th width={20}>Action</Th>
                    <Th>What it does</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {actions.map((a) => (
                    <Tr key={a}>
                      <Td>
                        <Button
                          variant={a.startsWith('terminate') ? 'danger' : 'secondary'}
                          size="sm"
                          onClick={() => start(a)}
                          data-action={a}
                        >
                          {label(a)}
                        </Button>
                      </Td>
                      <Td>
                        {VM_ACTIONS[a].description}
                        {VM_ACTIONS[a].adminOnly ? ' (admin)' : ''}
                      </Td>
                    </Tr>
                  ))}
                  {actions.length === 0 && (
                    <Tr>
                      <Td colSpan={2}>{allowed.loading ? 'Loading…' : 'No action is possible in this state.'}</Td>
                    </Tr>
                  )}
                </Tbody>
              </Table>
            </div>
          </Tab>
        </Tabs>
      </PageSection>
      {pending && VM_ACTIONS[pending].needsHost && (
        <HostPickModal
          action={pending}
          onClose={() => setPending(undefined)}
          onRun={(hostId) => run(pending, { host_id: hostId })}
        />
      )}
      {pending && !VM_ACTIONS[pending].needsHost && (
        <ConfirmModal
          title={`${label(pending)} VM ${vm.id} (${vm.name})?`}
          confirmLabel={label(pending)}
          onConfirm={() => run(pending)}
          onClose={() => setPending(undefined)}
        >
          {VM_ACTIONS[pending].description}.
        </ConfirmModal>
      )}
    </>
  );
}

function InfoTab({ vm }: { vm: Vm }) {
  return (
    <div className="oe-tab-body">
      <Facts
        items={[
          ['ID', vm.id],
          ['Name', vm.name],
          ['State', vm.state],
          ['LCM state', vm.lcm_state],
          ['Owner', vm.uname],
          ['Group', vm.gname],
          ['Permissions', <code key="p">{vm.permissions}</code>],
          [
            'Host',
            vm.host_id === null ? (
              ''
            ) : (
              <Link key="h" to={`/hosts/${vm.host_id}`}>
                {vm.host_name}
              </Link>
            ),
          ],
          ['Template', vm.template_id === null ? '' : <NameLink key="t" kind="template" id={vm.template_id} />],
          ['Pending operation', vm.pending_op ?? ''],
          ['Last action', vm.last_action ?? ''],
          ['Registered', formatTime(vm.created_at)],
          ['Started', formatEpochSeconds(vm.stime)],
          ['Ended', formatEpochSeconds(vm.etime)],
          ['Revision', vm.revision],
          ['Error', (vm as Vm & { error?: string | null }).error ?? ''],
        ]}
      />
      <div className="oe-spaced">
        <OwnershipActions kind="vm" object={vm} />
      </div>
    </div>
  );
}

function CapacityTab({ vm }: { vm: Vm }) {
  const t = vm.template;
  const cpu = single(t, 'CPU');
  const vcpu = single(t, 'VCPU') ?? '1';
  const mem = single(t, 'MEMORY');
  const topology = vectors(t, 'TOPOLOGY')[0];
  return (
    <div className="oe-tab-body">
      <Gallery hasGutter minWidths={{ default: '220px' }}>
        <Card isCompact>
          <CardTitle>CPU</CardTitle>
          <CardBody className="oe-big">{cpu ?? '-'}</CardBody>
        </Card>
        <Card isCompact>
          <CardTitle>VCPU</CardTitle>
          <CardBody className="oe-big">{vcpu}</CardBody>
        </Card>
        <Card isCompact>
          <CardTitle>Memory</CardTitle>
          <CardBody className="oe-big">{mem ? formatMb(num(mem)) : '-'}</CardBody>
        </Card>
      </Gallery>
      <div className="oe-spaced">
        <Facts
          items={[
            ['VCPU_MAX', single(t, 'VCPU_MAX') ?? ''],
            ['MEMORY_MAX', single(t, 'MEMORY_MAX') ?? ''],
            ['CPU_MODEL', vectors(t, 'CPU_MODEL')[0]?.MODEL ?? ''],
            [
              'Topology',
              topology
                ? Object.entries(topology)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')
                : '',
            ],
          ]}
        />
      </div>
    </div>
  );
}

function PlacementTab({ vm }: { vm: Vm }) {
  const t = vm.template;
  return (
    <div className="oe-tab-body">
      <Facts
        items={[
          ['Host', vm.host_name ?? ''],
          [
            'Scheduler message',
            <span key="m" data-testid="sched-message">
              {vm.sched_message || 'none'}
            </span>,
          ],
          ['Reschedule requested', vm.resched ? 'yes' : 'no'],
          ['SCHED_REQUIREMENTS', single(t, 'SCHED_REQUIREMENTS') ?? ''],
          ['SCHED_RANK', single(t, 'SCHED_RANK') ?? ''],
          ['SCHED_DS_REQUIREMENTS', single(t, 'SCHED_DS_REQUIREMENTS') ?? ''],
        ]}
      />
      <h3 className="oe-subhead">History</h3>
      <Table aria-label="Placement history" variant="compact">
        <Thead>
          <Tr>
            <Th>Seq</Th>
            <Th>Host</Th>
            <Th>Datastore</Th>
            <Th>Action</Th>
            <Th>Start</Th>
            <Th>End</Th>
          </Tr>
        </Thead>
        <Tbody>
          {vm.history.map((h) => (
            <Tr key={h.seq}>
              <Td>{h.seq}</Td>
              <Td>
                <Link to={`/hosts/${h.host_id}`}>{h.host_name}</Link>
              </Td>
              <Td>{h.ds_id}</Td>
              <Td>{h.action}</Td>
              <Td>{formatEpochSeconds(h.stime)}</Td>
              <Td>{formatEpochSeconds(h.etime)}</Td>
            </Tr>
          ))}
          {vm.history.length === 0 && (
            <Tr>
              <Td colSpan={6}>Never placed on a host.</Td>
            </Tr>
          )}
        </Tbody>
      </Table>
    </div>
  );
}

/** deploy and the migrations name a target host. */
function HostPickModal({
  action,
  onClose,
  onRun,
}: {
  action: VmAction;
  onClose: () => void;
  onRun: (hostId: number) => Promise<void>;
}) {
  const uid = useId().replace(/:/g, '');
  const hosts = usePool('host');
  const [hostId, setHostId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby={`${uid}-title`}>
      <ModalHeader
        title={`${label(action)}: choose a host`}
        labelId={`${uid}-title`}
        description={VM_ACTIONS[action].description}
      />
      <ModalBody>
        <Form onSubmit={(e) => e.preventDefault()}>
          <FormGroup label="Host" fieldId={`${uid}-host`} isRequired>
            <FormSelect id={`${uid}-host`} value={hostId} onChange={(_e, v) => setHostId(v)}>
              <FormSelectOption value="" label="Choose a host" isDisabled />
              {hosts.items.map((h) => (
                <FormSelectOption key={h.id} value={String(h.id)} label={`${h.id}: ${h.name} (${h.state})`} />
              ))}
            </FormSelect>
          </FormGroup>
        </Form>
        {error && <ErrorAlert error={error} />}
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          isDisabled={hostId === '' || busy}
          isLoading={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await onRun(Number(hostId));
              onClose();
            } catch (err) {
              setError(toErrorInfo(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          {label(action)}
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
