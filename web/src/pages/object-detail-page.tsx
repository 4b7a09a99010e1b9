import {
  Button,
  Flex,
  FlexItem,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Label,
  PageSection,
  Spinner,
  Tab,
  Tabs,
  TabTitleText,
  TextInput,
} from '@patternfly/react-core';
import { type ReactNode, useMemo, useState } from 'react';
import type { ApiObject, ObjectKind } from '../api';
import { Facts } from '../components/attributes';
import { ErrorAlert } from '../components/error-alert';
import { HostMonitoringPanel } from '../components/monitoring-panels';
import { NameLink } from '../components/name-link';
import { NumaView } from '../components/numa-view';
import { OwnershipActions } from '../components/object-actions';
import { PageHeader } from '../components/page-header';
import { HostStateLabel, StateLabel } from '../components/state-label';
import { EditableTemplate } from '../components/template-form';
import { useToast } from '../components/toasts';
import { VirtualTable } from '../components/virtual-table';
import { useObject, usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { formatMb, formatTime } from '../lib/format';
import { columnsFor, hostAgent, hrefOf, KIND_INFO } from './kind-columns';
import { SecgroupRules, VnetAddresses } from './network-tabs';
import { VM_COLUMNS } from './vms-page';

interface ExtraTab {
  key: string;
  title: string;
  body: ReactNode;
}

/**
 * The detail page of images, datastores, networks, clusters, hosts, users and
 * groups: Info (common fields, kind fields, permissions), kind-specific tabs,
 * and the template (editable, with inline errors). Live through the event stream.
 */
export function ObjectDetailPage({ kind, id }: { kind: ObjectKind; id: number }) {
  const { object, error, loading, deleted } = useObject(kind, id);
  const [tab, setTab] = useState<string | number>('info');
  const info = KIND_INFO[kind];
  const crumbs = [{ to: `/${info.path}`, label: info.title }];

  if (!object) {
    return (
      <>
        <PageHeader title={`${info.singular} ${id}`} crumbs={crumbs} />
        <PageSection>{loading ? <Spinner aria-label="Loading" /> : error && <ErrorAlert error={error} />}</PageSection>
      </>
    );
  }
  const extra = extraTabs(kind, object);
  const tabs = [
    <Tab key="info" eventKey="info" title={<TabTitleText>Info</TabTitleText>}>
      <div className="oe-tab-body">
        <Facts items={[...commonFacts(object), ...kindFacts(kind, object)]} />
        <div className="oe-spaced">
          <OwnershipActions kind={kind} object={object} afterDelete={`/${info.path}`} />
        </div>
      </div>
    </Tab>,
    ...extra.map((t) => (
      <Tab key={t.key} eventKey={t.key} title={<TabTitleText>{t.title}</TabTitleText>}>
        <div className="oe-tab-body">{t.body}</div>
      </Tab>
    )),
    <Tab key="template" eventKey="template" title={<TabTitleText>Template</TabTitleText>}>
      <EditableTemplate key={object.id} kind={kind} object={object} />
    </Tab>,
  ];
  return (
    <>
      <PageHeader
        title={object.name}
        crumbs={crumbs}
        badge={
          <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <FlexItem className="oe-muted">#{object.id}</FlexItem>
            {object.state && (
              <FlexItem data-testid="object-state">
                {kind === 'host' ? <HostStateLabel state={object.state} /> : <StateLabel state={object.state} />}
              </FlexItem>
            )}
          </Flex>
        }
        actions={kind === 'host' ? <HostActions host={object as ApiObject<'host'>} /> : undefined}
      />
      <PageSection>
        {deleted && (
          <ErrorAlert error={{ code: 'E_NOT_FOUND', message: `this ${info.singular} was deleted`, details: {} }} />
        )}
        <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label={`${info.singular} details`} mountOnEnter>
          {tabs}
        </Tabs>
      </PageSection>
    </>
  );
}

function commonFacts(o: ApiObject): [string, ReactNode][] {
  return [
    ['ID', o.id],
    ['Name', o.name],
    ['Owner', o.uname],
    ['Group', o.gname],
    ['Permissions', <code key="p">{o.permissions}</code>],
    ['Registered', formatTime(o.created_at)],
    ['Updated', formatTime(o.updated_at)],
    ['Revision', o.revision],
  ];
}

function kindFacts(kind: ObjectKind, o: ApiObject): [string, ReactNode][] {
  switch (kind) {
    case 'host': {
      const h = o as ApiObject<'host'>;
      const agent = hostAgent(h);
      return [
        ['State', h.state],
        ['Cluster', <NameLink key="c" kind="cluster" id={h.cluster_id} />],
        ['Information driver', h.im_mad],
        ['Virtualization driver', h.vm_mad],
        [
          'Agent',
          agent.connected ? (
            <Label key="a" color="green" isCompact>
              connected
            </Label>
          ) : (
            'not connected'
          ),
        ],
        ['Last seen', formatTime(agent.last_seen)],
        ['Hostname', agent.facts?.hostname ?? ''],
        ['Architecture', agent.facts?.arch ?? ''],
        ['CPUs', agent.facts?.cpus ?? ''],
        ['Memory', agent.facts?.memoryMb ? formatMb(agent.facts.memoryMb) : ''],
        ['Runtimes', agent.facts?.runtimes?.join(', ') ?? ''],
      ];
    }
    case 'image': {
      const i = o as ApiObject<'image'>;
      return [
        ['State', i.state],
        ['Type', i.type],
        ['Datastore', <NameLink key="d" kind="datastore" id={i.datastore_id} />],
        ['Size', formatMb(i.size_mb)],
        ['Format', i.format],
        ['Persistent', i.persistent ? 'yes' : 'no'],
        ['Source', i.source],
        ['Used by VMs', i.running_vms.map((v) => `#${v}`).join(', ')],
      ];
    }
    case 'datastore': {
      const d = o as ApiObject<'datastore'>;
      return [
        ['Type', d.type],
        ['Datastore driver', d.ds_mad],
        ['Transfer driver', d.tm_mad],
        ['Clusters', d.cluster_ids.join(', ')],
        [
          'Capacity',
          d.total_mb === undefined
            ? 'not measured'
            : `${formatMb(d.used_mb ?? 0)} used, ${formatMb(d.free_mb ?? 0)} free of ${formatMb(d.total_mb)}`,
        ],
      ];
    }
    case 'vnet': {
      const v = o as ApiObject<'vnet'>;
      return [
        ['State', v.state],
        ['Driver', v.vn_mad],
        ['Bridge', v.bridge],
        ['VLAN / VNI', v.vlan_id ?? ''],
        ['Address ranges', v.ar_pool?.length ?? 0],
        ['Leases', v.used_leases ?? 0],
        [
          'Parent network',
          v.parent_network_id == null ? '' : <NameLink key="p" kind="vnet" id={v.parent_network_id} />,
        ],
        ['Clusters', v.cluster_ids.join(', ')],
      ];
    }
    case 'user': {
      const u = o as ApiObject<'user'>;
      return [
        ['Primary group', o.gname],
        ['Groups', [o.gid, ...u.groups.filter((g) => g !== o.gid)].join(', ')],
        ['Enabled', u.enabled ? 'yes' : 'no'],
        ['Authentication', u.auth_driver],
      ];
    }
    default:
      return [];
  }
}

function extraTabs(kind: ObjectKind, o: ApiObject): ExtraTab[] {
  switch (kind) {
    case 'host':
      return [
        { key: 'vms', title: 'VMs', body: <HostVms hostId={o.id} /> },
        {
          key: 'monitoring',
          title: 'Monitoring',
          body: <HostMonitoringPanel host={o as ApiObject<'host'>} />,
        },
        { key: 'numa', title: 'NUMA', body: <NumaView host={o as ApiObject<'host'>} /> },
      ];
    case 'vnet':
      return [{ key: 'ar', title: 'Addresses and leases', body: <VnetAddresses vnet={o as ApiObject<'vnet'>} /> }];
    case 'secgroup':
      return [{ key: 'rules', title: 'Rules', body: <SecgroupRules secgroup={o as ApiObject<'secgroup'>} /> }];
    case 'user':
      return [{ key: 'groups', title: 'Groups and password', body: <UserAdmin user={o as ApiObject<'user'>} /> }];
    case 'group':
      return [
        {
          key: 'users',
          title: 'Users',
          body: <Members kind="user" test={(u) => u.gid === o.id || (u as ApiObject<'user'>).groups.includes(o.id)} />,
        },
      ];
    case 'cluster':
      return [
        {
          key: 'hosts',
          title: 'Hosts',
          body: <Members kind="host" test={(h) => (h as ApiObject<'host'>).cluster_id === o.id} />,
        },
      ];
    case 'datastore':
      return [
        {
          key: 'images',
          title: 'Images',
          body: <Members kind="image" test={(i) => (i as ApiObject<'image'>).datastore_id === o.id} />,
        },
      ];
    default:
      return [];
  }
}

function HostVms({ hostId }: { hostId: number }) {
  const vms = usePool('vm');
  const rows = useMemo(() => vms.items.filter((v) => v.host_id === hostId), [vms.items, hostId]);
  return (
    <VirtualTable
      ariaLabel="VMs on this host"
      rows={rows}
      columns={VM_COLUMNS}
      rowHref={(v) => `/vms/${v.id}`}
      height="420px"
      empty="No VMs on this host."
    />
  );
}

function Members({ kind, test }: { kind: ObjectKind; test: (o: ApiObject) => boolean }) {
  const pool = usePool(kind);
  const rows = useMemo(() => pool.items.filter(test), [pool.items, test]);
  const columns = useMemo(
    () =>
      columnsFor(kind, {
        vmsByHost: new Map(),
        hostsByCluster: new Map(),
        usersByGroup: new Map(),
        clusterName: String,
        datastoreName: String,
      }),
    [kind],
  );
  return (
    <VirtualTable
      ariaLabel={KIND_INFO[kind].title}
      rows={rows}
      columns={columns}
      rowHref={(r) => hrefOf(kind, r.id)}
      height="360px"
      empty={`No ${KIND_INFO[kind].title.toLowerCase()}.`}
    />
  );
}

function HostActions({ host }: { host: ApiObject<'host'> }) {
  const { client, user } = useSession();
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  if (!user.admin) return null;
  const act = async (action: 'enable' | 'disable' | 'offline') => {
    setError(undefined);
    try {
      await client.hostAction(host.id, action);
    } catch (err) {
      setError(toErrorInfo(err));
    }
  };
  return (
    <Flex spaceItems={{ default: 'spaceItemsSm' }} role="group" aria-label="Host actions">
      {(['enable', 'disable', 'offline'] as const).map((a) => (
        <FlexItem key={a}>
          <Button variant="secondary" onClick={() => void act(a)}>
            {a.charAt(0).toUpperCase() + a.slice(1)}
          </Button>
        </FlexItem>
      ))}
      {error && (
        <FlexItem>
          <ErrorAlert error={error} onClose={() => setError(undefined)} />
        </FlexItem>
      )}
    </Flex>
  );
}

/** Secondary groups (administrators), password (administrators, or yourself) and enable/disable. */
function UserAdmin({ user: target }: { user: ApiObject<'user'> }) {
  const { client, user } = useSession();
  const toast = useToast();
  const groups = usePool('group');
  const [addGid, setAddGid] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const self = user.id === target.id;
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      toast({ variant: 'success', title: what });
    } catch (err) {
      setError(toErrorInfo(err));
    }
  };
  const name = (gid: number) => groups.items.find((g) => g.id === gid)?.name ?? `#${gid}`;
  const member = new Set([target.gid, ...target.groups]);
  return (
    <>
      {error && <ErrorAlert error={error} onClose={() => setError(undefined)} />}
      <h3 className="oe-subhead">Groups</h3>
      <ul className="oe-group-list" aria-label="Groups of this user">
        {[...member].map((gid) => (
          <li key={gid}>
            {name(gid)} {gid === target.gid && <Label isCompact>primary</Label>}
            {user.admin && gid !== target.gid && (
              <Button
                variant="link"
                isInline
                isDanger
                aria-label={`Remove from group ${name(gid)}`}
                onClick={() => void attempt(`Removed from ${name(gid)}`, () => client.delGroup(target.id, gid))}
              >
                remove
              </Button>
            )}
          </li>
        ))}
      </ul>
      {user.admin && (
        <Form
          isHorizontal
          onSubmit={(e) => {
            e.preventDefault();
            if (addGid)
              void attempt(`Added to ${name(Number(addGid))}`, () => client.addGroup(target.id, Number(addGid)));
          }}
        >
          <FormGroup label="Add to group" fieldId="user-add-group">
            <Flex spaceItems={{ default: 'spaceItemsSm' }}>
              <FlexItem>
                <FormSelect id="user-add-group" value={addGid} onChange={(_e, v) => setAddGid(v)}>
                  <FormSelectOption value="" label="Choose a group" isDisabled />
                  {groups.items
                    .filter((g) => !member.has(g.id))
                    .map((g) => (
                      <FormSelectOption key={g.id} value={String(g.id)} label={`${g.id}: ${g.name}`} />
                    ))}
                </FormSelect>
              </FlexItem>
              <FlexItem>
                <Button type="submit" variant="secondary" isDisabled={!addGid}>
                  Add
                </Button>
              </FlexItem>
            </Flex>
          </FormGroup>
        </Form>
      )}
      {(user.admin || self) && (
        <>
          <h3 className="oe-subhead">Password</h3>
          <Form
            isHorizontal
            onSubmit={(e) => {
              e.preventDefault();
              void attempt('Password changed; the user’s sessions have ended', async () => {
                await client.setPassword(target.id, password);
                setPassword('');
              });
            }}
          >
            <FormGroup label="New password" fieldId="user-new-password">
              <Flex spaceItems={{ default: 'spaceItemsSm' }}>
                <FlexItem>
                  <TextInput
                    id="user-new-password"
                    type="password"
                    autoComplete="new-password"
                    value={password}
                    onChange={(_e, v) => setPassword(v)}
                  />
                </FlexItem>
                <FlexItem>
                  <Button type="submit" variant="secondary" isDisabled={password === ''}>
                    Change password
                  </Button>
                </FlexItem>
              </Flex>
            </FormGroup>
          </Form>
        </>
      )}
      {user.admin && !self && (
        <div className="oe-spaced">
          {target.enabled ? (
            <Button
              variant="secondary"
              onClick={() => void attempt('User disabled', () => client.disableUser(target.id))}
            >
              Disable user
            </Button>
          ) : (
            <Button
              variant="secondary"
              onClick={() => void attempt('User enabled', () => client.enableUser(target.id))}
            >
              Enable user
            </Button>
          )}
        </div>
      )}
    </>
  );
}
