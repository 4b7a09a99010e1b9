import { Label } from '@patternfly/react-core';
import type { ApiObject, ObjectKind } from '../api';
import { HostStateLabel, StateLabel } from '../components/state-label';
import type { Column } from '../components/virtual-table';
import { formatMb, formatTime } from '../lib/format';
import { Link } from '../router';

/** Each kind's URL segment, titles and what a page says about it. */
export const KIND_INFO: Record<ObjectKind, { path: string; title: string; singular: string }> = {
  vm: { path: 'vms', title: 'VMs', singular: 'VM' },
  template: { path: 'templates', title: 'VM Templates', singular: 'VM template' },
  image: { path: 'images', title: 'Images', singular: 'image' },
  datastore: { path: 'datastores', title: 'Datastores', singular: 'datastore' },
  vnet: { path: 'vnets', title: 'Virtual Networks', singular: 'virtual network' },
  secgroup: { path: 'secgroups', title: 'Security Groups', singular: 'security group' },
  cluster: { path: 'clusters', title: 'Clusters', singular: 'cluster' },
  host: { path: 'hosts', title: 'Hosts', singular: 'host' },
  user: { path: 'users', title: 'Users', singular: 'user' },
  group: { path: 'groups', title: 'Groups', singular: 'group' },
  vmgroup: { path: 'vmgroups', title: 'VM Groups', singular: 'VM group' },
};

export function hrefOf(kind: ObjectKind, id: number): string {
  return `/${KIND_INFO[kind].path}/${id}`;
}

type Any = ApiObject;

export function idColumn<T extends Any>(): Column<T> {
  return { key: 'id', title: 'ID', width: '6rem', render: (o) => o.id, text: (o) => String(o.id), sort: (o) => o.id };
}

export function nameColumn<T extends Any>(kind: ObjectKind): Column<T> {
  return {
    key: 'name',
    title: 'Name',
    render: (o) => (
      <Link to={hrefOf(kind, o.id)} className="oe-name-link">
        {o.name}
      </Link>
    ),
    text: (o) => o.name,
  };
}

export function ownerColumns<T extends Any>(): Column<T>[] {
  return [
    { key: 'owner', title: 'Owner', width: '9rem', render: (o) => o.uname, text: (o) => o.uname },
    { key: 'group', title: 'Group', width: '9rem', render: (o) => o.gname, text: (o) => o.gname },
  ];
}

/** Extra knowledge some columns need from other pools (counts by host, cluster, group). */
export interface ColumnContext {
  vmsByHost: Map<number, number>;
  hostsByCluster: Map<number, number>;
  usersByGroup: Map<number, number>;
  clusterName: (id: number) => string;
  datastoreName: (id: number) => string;
}

/** Host fields the agent fills in once it has joined (#3); absent before. */
export interface HostAgentFields {
  facts?: { cpus?: number; memoryMb?: number; hostname?: string; arch?: string; runtimes?: string[] } | null;
  connected?: boolean;
  last_seen?: number;
}

export function hostAgent(o: ApiObject<'host'>): HostAgentFields {
  return o as unknown as HostAgentFields;
}

export function columnsFor(kind: ObjectKind, ctx: ColumnContext): Column<Any>[] {
  const base = [idColumn<Any>(), nameColumn<Any>(kind)];
  const created: Column<Any> = {
    key: 'created',
    title: 'Registered',
    width: '11.5rem',
    render: (o) => formatTime(o.created_at),
    text: (o) => formatTime(o.created_at),
    sort: (o) => o.created_at,
  };
  switch (kind) {
    case 'template':
    case 'secgroup':
      return [...base, ...ownerColumns(), created];
    case 'image': {
      const im = (o: Any) => o as ApiObject<'image'>;
      return [
        ...base,
        ...ownerColumns(),
        { key: 'type', title: 'Type', width: '8rem', render: (o) => im(o).type, text: (o) => im(o).type },
        {
          key: 'ds',
          title: 'Datastore',
          width: '10rem',
          render: (o) => ctx.datastoreName(im(o).datastore_id),
          text: (o) => ctx.datastoreName(im(o).datastore_id),
        },
        {
          key: 'size',
          title: 'Size',
          width: '6rem',
          render: (o) => formatMb(im(o).size_mb),
          text: (o) => formatMb(im(o).size_mb),
          sort: (o) => im(o).size_mb,
        },
        {
          key: 'state',
          title: 'State',
          width: '8rem',
          render: (o) => <StateLabel state={o.state} />,
          text: (o) => o.state ?? '',
        },
        {
          key: 'vms',
          title: 'VMs',
          width: '6rem',
          render: (o) => im(o).running_vms.length,
          text: (o) => String(im(o).running_vms.length),
          sort: (o) => im(o).running_vms.length,
        },
      ];
    }
    case 'datastore': {
      const ds = (o: Any) => o as ApiObject<'datastore'>;
      return [
        ...base,
        ...ownerColumns(),
        { key: 'type', title: 'Type', width: '8rem', render: (o) => ds(o).type, text: (o) => ds(o).type },
        { key: 'ds_mad', title: 'DS driver', width: '8rem', render: (o) => ds(o).ds_mad, text: (o) => ds(o).ds_mad },
        { key: 'tm_mad', title: 'TM driver', width: '8rem', render: (o) => ds(o).tm_mad, text: (o) => ds(o).tm_mad },
        {
          key: 'clusters',
          title: 'Clusters',
          width: '10rem',
          render: (o) => ds(o).cluster_ids.map(ctx.clusterName).join(', '),
          text: (o) => ds(o).cluster_ids.map(ctx.clusterName).join(', '),
        },
      ];
    }
    case 'vnet': {
      const vn = (o: Any) => o as ApiObject<'vnet'>;
      return [
        ...base,
        ...ownerColumns(),
        {
          key: 'state',
          title: 'State',
          width: '8rem',
          render: (o) => <StateLabel state={o.state} />,
          text: (o) => o.state ?? '',
        },
        { key: 'vn_mad', title: 'Driver', width: '8rem', render: (o) => vn(o).vn_mad, text: (o) => vn(o).vn_mad },
        { key: 'bridge', title: 'Bridge', width: '8rem', render: (o) => vn(o).bridge, text: (o) => vn(o).bridge },
        {
          key: 'clusters',
          title: 'Clusters',
          width: '10rem',
          render: (o) => vn(o).cluster_ids.map(ctx.clusterName).join(', '),
          text: (o) => vn(o).cluster_ids.map(ctx.clusterName).join(', '),
        },
      ];
    }
    case 'cluster':
      return [
        ...base,
        {
          key: 'hosts',
          title: 'Hosts',
          width: '7rem',
          render: (o) => ctx.hostsByCluster.get(o.id) ?? 0,
          text: (o) => String(ctx.hostsByCluster.get(o.id) ?? 0),
          sort: (o) => ctx.hostsByCluster.get(o.id) ?? 0,
        },
      ];
    case 'host': {
      const h = (o: Any) => o as ApiObject<'host'>;
      return [
        ...base,
        {
          key: 'cluster',
          title: 'Cluster',
          width: '10rem',
          render: (o) => ctx.clusterName(h(o).cluster_id),
          text: (o) => ctx.clusterName(h(o).cluster_id),
        },
        {
          key: 'vms',
          title: 'VMs',
          width: '6rem',
          render: (o) => ctx.vmsByHost.get(o.id) ?? 0,
          text: (o) => String(ctx.vmsByHost.get(o.id) ?? 0),
          sort: (o) => ctx.vmsByHost.get(o.id) ?? 0,
        },
        {
          key: 'cpu',
          title: 'CPUs',
          width: '6rem',
          render: (o) => hostAgent(h(o)).facts?.cpus ?? '-',
          text: (o) => String(hostAgent(h(o)).facts?.cpus ?? ''),
          sort: (o) => hostAgent(h(o)).facts?.cpus ?? 0,
        },
        {
          key: 'mem',
          title: 'Memory',
          width: '7rem',
          render: (o) => {
            const mb = hostAgent(h(o)).facts?.memoryMb;
            return mb ? formatMb(mb) : '-';
          },
          text: (o) => String(hostAgent(h(o)).facts?.memoryMb ?? ''),
          sort: (o) => hostAgent(h(o)).facts?.memoryMb ?? 0,
        },
        {
          key: 'state',
          title: 'State',
          width: '8rem',
          render: (o) => <HostStateLabel state={o.state} />,
          text: (o) => o.state ?? '',
        },
      ];
    }
    case 'user': {
      const u = (o: Any) => o as ApiObject<'user'>;
      return [
        ...base,
        { key: 'group', title: 'Group', width: '9rem', render: (o) => o.gname, text: (o) => o.gname },
        {
          key: 'groups',
          title: 'Secondary groups',
          width: '10rem',
          render: (o) =>
            u(o)
              .groups.filter((g) => g !== o.gid)
              .join(', '),
          text: (o) => u(o).groups.join(','),
        },
        {
          key: 'enabled',
          title: 'Enabled',
          width: '7rem',
          render: (o) =>
            u(o).enabled ? (
              <Label isCompact color="green">
                yes
              </Label>
            ) : (
              <Label isCompact>no</Label>
            ),
          text: (o) => (u(o).enabled ? 'yes' : 'no'),
        },
      ];
    }
    case 'group':
      return [
        ...base,
        {
          key: 'users',
          title: 'Users',
          width: '7rem',
          render: (o) => ctx.usersByGroup.get(o.id) ?? 0,
          text: (o) => String(ctx.usersByGroup.get(o.id) ?? 0),
          sort: (o) => ctx.usersByGroup.get(o.id) ?? 0,
        },
      ];
    case 'vmgroup': {
      const roles = (o: Any) =>
        ((o as ApiObject<'vmgroup'>).roles ?? []).map((r) => `${r.name} (${r.policy})`).join(', ');
      return [
        ...base,
        ...ownerColumns(),
        { key: 'roles', title: 'Roles', width: '20rem', render: roles, text: roles },
        created,
      ];
    }
    case 'vm':
      return base;
  }
}
