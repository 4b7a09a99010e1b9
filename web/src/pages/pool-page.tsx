import { Button, PageSection, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { type ReactNode, useDeferredValue, useMemo, useState } from 'react';
import type { ApiObject, ObjectKind } from '../api';
import { ConfirmModal } from '../components/confirm-modal';
import { CreateModal } from '../components/create-modal';
import { ErrorAlert } from '../components/error-alert';
import { PageHeader } from '../components/page-header';
import { useToast } from '../components/toasts';
import { filterRows, VirtualTable } from '../components/virtual-table';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { toErrorInfo } from '../lib/errors';
import { navigate } from '../router';
import { type ColumnContext, columnsFor, hrefOf, KIND_INFO } from './kind-columns';

const DESCRIPTIONS: Partial<Record<ObjectKind, string>> = {
  template: 'VM templates in OpenNebula syntax, YAML or JSON; instantiate them to create VMs.',
  image: 'Disk images in the image datastores.',
  datastore: 'Image, system and file datastores.',
  vnet: 'Virtual networks and their address ranges.',
  secgroup: 'Firewall rules for VM NICs (nftables on the hosts), applied live.',
  cluster: 'Groups of hosts sharing datastores and networks.',
  host: 'Edge hosts; each runs the ONEedge agent.',
  user: 'Users, their groups and passwords.',
  group: 'Groups of users.',
};

/** Kinds only administrators create (the API refuses others with E_FORBIDDEN). */
const ADMIN_CREATE: ReadonlySet<ObjectKind> = new Set(['user', 'group', 'cluster', 'host', 'datastore', 'vnet']);

/**
 * The list page every pool shares: a filter, a virtualised live table, create
 * (templates open the editor) and delete of the selected rows, confirmed.
 */
export function PoolPage({
  kind,
  extra,
  headerActions,
}: {
  kind: ObjectKind;
  extra?: Partial<ColumnContext>;
  headerActions?: ReactNode;
}) {
  const { client, user } = useSession();
  const toast = useToast();
  const pool = usePool(kind);
  const clusters = usePool('cluster');
  const datastores = usePool('datastore');
  const [filter, setFilter] = useState('');
  const deferred = useDeferredValue(filter);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const info = KIND_INFO[kind];

  const columns = useMemo(() => {
    const names = (items: readonly ApiObject[]) => {
      const m = new Map(items.map((o) => [o.id, o.name]));
      return (id: number) => m.get(id) ?? String(id);
    };
    const ctx: ColumnContext = {
      vmsByHost: new Map(),
      hostsByCluster: new Map(),
      usersByGroup: new Map(),
      clusterName: names(clusters.items),
      datastoreName: names(datastores.items),
      ...extra,
    };
    return columnsFor(kind, ctx);
  }, [kind, extra, clusters.items, datastores.items]);

  const rows = useMemo(() => filterRows(pool.items, columns, deferred), [pool.items, columns, deferred]);
  const selectedVisible = [...selected].filter((id) => pool.items.some((o) => o.id === id));
  const canCreate = !ADMIN_CREATE.has(kind) || user.admin;

  const removeSelected = async () => {
    const failures: string[] = [];
    for (const id of selectedVisible) {
      try {
        await client.delete(kind, id);
      } catch (err) {
        const e = toErrorInfo(err);
        failures.push(`${id}: ${e.message} (${e.code})`);
      }
    }
    setSelected(new Set());
    if (failures.length > 0) {
      toast({ variant: 'danger', title: `${failures.length} could not be deleted`, body: failures.join('\n') });
    } else {
      toast({ variant: 'success', title: `Deleted ${selectedVisible.length} ${info.singular}(s)` });
    }
  };

  return (
    <>
      <PageHeader
        title={info.title}
        description={DESCRIPTIONS[kind]}
        actions={
          <>
            {headerActions}
            {canCreate && (
              <Button
                variant="primary"
                onClick={() => (kind === 'template' ? navigate('/templates/new') : setCreating(true))}
              >
                Create {info.singular}
              </Button>
            )}
          </>
        }
      />
      <PageSection>
        {pool.error && <ErrorAlert error={pool.error} title={`Cannot list ${info.title.toLowerCase()}`} />}
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <SearchInput
                aria-label={`Filter ${info.title}`}
                placeholder="Filter by any column"
                value={filter}
                onChange={(_e, v) => setFilter(v)}
                onClear={() => setFilter('')}
              />
            </ToolbarItem>
            <ToolbarItem>
              <Button variant="danger" isDisabled={selectedVisible.length === 0} onClick={() => setDeleting(true)}>
                Delete
              </Button>
            </ToolbarItem>
            <ToolbarItem variant="pagination" align={{ default: 'alignEnd' }}>
              <span className="oe-count" data-testid="row-count">
                {pool.loading && pool.items.length === 0 ? 'Loading…' : `${rows.length} of ${pool.items.length}`}
              </span>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <VirtualTable
          ariaLabel={info.title}
          rows={rows}
          columns={columns}
          selection={{ selected, onChange: setSelected }}
          rowHref={(o) => hrefOf(kind, o.id)}
          empty={pool.loading ? 'Loading…' : `No ${info.title.toLowerCase()} to show.`}
        />
      </PageSection>
      {creating && (
        <CreateModal
          kind={kind}
          onClose={() => setCreating(false)}
          onCreated={(o) => toast({ variant: 'success', title: `Created ${info.singular} ${o.id}: ${o.name}` })}
        />
      )}
      {deleting && (
        <ConfirmModal
          title={`Delete ${selectedVisible.length} ${info.singular}(s)?`}
          confirmLabel="Delete"
          onConfirm={removeSelected}
          onClose={() => setDeleting(false)}
        >
          This deletes {selectedVisible.map((id) => `#${id}`).join(', ')}. It cannot be undone.
        </ConfirmModal>
      )}
    </>
  );
}

export function HostsPage() {
  const vms = usePool('vm');
  const extra = useMemo(() => {
    const vmsByHost = new Map<number, number>();
    for (const vm of vms.items)
      if (vm.host_id !== null) vmsByHost.set(vm.host_id, (vmsByHost.get(vm.host_id) ?? 0) + 1);
    return { vmsByHost };
  }, [vms.items]);
  return <PoolPage kind="host" extra={extra} />;
}

export function ClustersPage() {
  const hosts = usePool('host');
  const extra = useMemo(() => {
    const hostsByCluster = new Map<number, number>();
    for (const h of hosts.items) hostsByCluster.set(h.cluster_id, (hostsByCluster.get(h.cluster_id) ?? 0) + 1);
    return { hostsByCluster };
  }, [hosts.items]);
  return <PoolPage kind="cluster" extra={extra} />;
}

export function GroupsPage() {
  const users = usePool('user');
  const extra = useMemo(() => {
    const usersByGroup = new Map<number, number>();
    for (const u of users.items)
      for (const g of new Set([u.gid, ...u.groups])) usersByGroup.set(g, (usersByGroup.get(g) ?? 0) + 1);
    return { usersByGroup };
  }, [users.items]);
  return <PoolPage kind="group" extra={extra} />;
}
