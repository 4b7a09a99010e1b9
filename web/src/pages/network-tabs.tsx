import {
  Button,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  Label,
  Spinner,
  TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useMemo, useState } from 'react';
import { type ApiObject, serializeTemplate, type Template, type TemplateVector, type VnetLease } from '../api';
import { ConfirmModal } from '../components/confirm-modal';
import { ErrorAlert } from '../components/error-alert';
import { useToast } from '../components/toasts';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { Link } from '../router';

/** A network's address ranges (its AR_POOL) with how many leases each holds. */
export function VnetRanges({ vnet, leases }: { vnet: ApiObject<'vnet'>; leases: readonly VnetLease[] | undefined }) {
  const ars = vnet.ar_pool ?? [];
  const used = (arId: number) => leases?.filter((l) => l.ar_id === arId).length;
  return (
    <Table aria-label="Address ranges" variant="compact">
      <Thead>
        <Tr>
          <Th>AR</Th>
          <Th>Type</Th>
          <Th>First IP</Th>
          <Th>IPv6</Th>
          <Th>First MAC</Th>
          <Th>Size</Th>
          <Th>Used</Th>
        </Tr>
      </Thead>
      <Tbody>
        {ars.map((ar) => (
          <Tr key={ar.ar_id} data-ar={ar.ar_id}>
            <Td>{ar.ar_id}</Td>
            <Td>{ar.type}</Td>
            <Td>{ar.ip ?? ''}</Td>
            <Td>{ar.ip6 ? `${ar.ip6}/${ar.prefix_length ?? ''}` : (ar.global_prefix ?? ar.ula_prefix ?? '')}</Td>
            <Td>
              <code>{ar.mac}</code>
            </Td>
            <Td>{ar.size}</Td>
            <Td>{used(ar.ar_id) ?? '…'}</Td>
          </Tr>
        ))}
        {ars.length === 0 && (
          <Tr>
            <Td colSpan={7}>No address ranges.</Td>
          </Tr>
        )}
      </Tbody>
    </Table>
  );
}

/**
 * `GET /vnets/{id}/leases`, re-read when the event stream reports a change of
 * this network or of any VM (a VM taking or giving back a NIC), coalesced.
 */
export function useLeases(vnetId: number): { leases: VnetLease[] | undefined; error: ErrorInfo | undefined } {
  const { client, hub } = useSession();
  const [leases, setLeases] = useState<VnetLease[] | undefined>(undefined);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  useEffect(() => {
    let live = true;
    let busy = false;
    let again = false;
    const load = () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      client
        .vnetLeases(vnetId)
        .then((l) => {
          if (!live) return;
          setLeases(l);
          setError(undefined);
        })
        .catch((err) => live && setError(toErrorInfo(err)))
        .finally(() => {
          busy = false;
          if (live && again) {
            again = false;
            load();
          }
        });
    };
    load();
    const off = hub.subscribe((batch) => {
      if (batch.resync || batch.events.some((e) => e.kind === 'vm' || (e.kind === 'vnet' && e.id === vnetId))) load();
    });
    return () => {
      live = false;
      off();
    };
  }, [client, hub, vnetId]);
  return { leases, error };
}

export function VnetAddresses({ vnet }: { vnet: ApiObject<'vnet'> }) {
  const { leases, error } = useLeases(vnet.id);
  return (
    <>
      {error && <ErrorAlert error={error} title="Cannot read the leases" />}
      <VnetRanges vnet={vnet} leases={leases} />
      <h3 className="oe-subhead">Leases</h3>
      <VnetLeaseTable leases={leases} />
    </>
  );
}

export function VnetLeaseTable({ leases }: { leases: readonly VnetLease[] | undefined }) {
  if (!leases) return <Spinner aria-label="Loading leases" />;
  return (
    <Table aria-label="Leases" variant="compact">
      <Thead>
        <Tr>
          <Th>AR</Th>
          <Th>IP</Th>
          <Th>IPv6</Th>
          <Th>MAC</Th>
          <Th>Held by</Th>
        </Tr>
      </Thead>
      <Tbody>
        {leases.map((l) => (
          <Tr key={`${l.ar_id}:${l.index}`} data-lease-ip={l.ip ?? l.ip6 ?? l.mac}>
            <Td>{l.ar_id}</Td>
            <Td>{l.ip ?? ''}</Td>
            <Td>{l.ip6 ?? ''}</Td>
            <Td>
              <code>{l.mac}</code>
            </Td>
            <Td>
              {l.kind === 'vm' && l.vm_id !== null ? (
                <Link to={`/vms/${l.vm_id}`}>
                  VM {l.vm_id}
                  {l.vm_name ? ` (${l.vm_name})` : ''}
                  {l.nic_id !== null ? `, NIC ${l.nic_id}` : ''}
                </Link>
              ) : l.kind === 'reserved' ? (
                <Label isCompact color="purple">
                  reserved{l.reserved_by !== null ? ` by network ${l.reserved_by}` : ''}
                </Label>
              ) : (
                <Label isCompact color="orange">
                  on hold
                </Label>
              )}
            </Td>
          </Tr>
        ))}
        {leases.length === 0 && (
          <Tr>
            <Td colSpan={5}>No address is leased.</Td>
          </Tr>
        )}
      </Tbody>
    </Table>
  );
}

// --- security groups -------------------------------------------------------------------------

const PROTOCOLS = ['ALL', 'TCP', 'UDP', 'ICMP', 'ICMPV6'] as const;
const FIELDS = ['RANGE', 'IP', 'SIZE', 'NETWORK_ID', 'ICMP_TYPE'] as const;

interface RuleRow {
  key: number;
  RULE_TYPE: string;
  PROTOCOL: string;
  RANGE: string;
  IP: string;
  SIZE: string;
  NETWORK_ID: string;
  ICMP_TYPE: string;
  /** Attributes of the vector this editor has no field for; kept as they are. */
  rest: TemplateVector;
}

let nextKey = 1;

function rowsOf(t: Template): RuleRow[] {
  const raw = t.RULE;
  const all = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return all
    .filter((v): v is TemplateVector => typeof v === 'object')
    .map((v) => {
      const {
        RULE_TYPE = 'inbound',
        PROTOCOL = 'ALL',
        RANGE = '',
        IP = '',
        SIZE = '',
        NETWORK_ID = '',
        ICMP_TYPE = '',
        ...rest
      } = v;
      return {
        key: nextKey++,
        RULE_TYPE: RULE_TYPE.toLowerCase(),
        PROTOCOL: PROTOCOL.toUpperCase(),
        RANGE,
        IP,
        SIZE,
        NETWORK_ID,
        ICMP_TYPE,
        rest,
      };
    });
}

function vectorOf(r: RuleRow): TemplateVector {
  const v: TemplateVector = { PROTOCOL: r.PROTOCOL, RULE_TYPE: r.RULE_TYPE };
  for (const f of FIELDS) if (r[f].trim() !== '') v[f] = r[f].trim();
  return { ...r.rest, ...v };
}

/**
 * The rules of a security group as an editable table (OpenNebula's
 * `RULE = [...]` vectors): add, change, remove, then save the whole template
 * with If-Match. The server parses and checks every rule; an invalid one is
 * refused with its attribute (e.g. `RULE[1]/RANGE`) and nothing is saved.
 * Saving fewer rules than before asks first. Running VMs get the new rules live.
 */
export function SecgroupRules({ secgroup }: { secgroup: ApiObject<'secgroup'> }) {
  const { client } = useSession();
  const toast = useToast();
  const saved = useMemo(() => rowsOf(secgroup.template), [secgroup.template]);
  const [rows, setRows] = useState<RuleRow[]>(saved);
  const [base, setBase] = useState(secgroup.revision);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  // A change saved elsewhere (another tab, the CLI) replaces an untouched editor.
  const dirty = JSON.stringify(rows.map(vectorOf)) !== JSON.stringify(saved.map(vectorOf));
  if (secgroup.revision !== base && !dirty) {
    setBase(secgroup.revision);
    setRows(saved);
  }
  const set = (key: number, field: keyof RuleRow, value: string) =>
    setRows((rs) => rs.map((r) => (r.key === key ? { ...r, [field]: value } : r)));

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const { RULE: _old, ...others } = secgroup.template;
      // One vector is written as a value, several as a list (the canonical form).
      const vectors = rows.map(vectorOf);
      const template: Template =
        vectors.length === 0
          ? others
          : { ...others, RULE: vectors.length === 1 ? (vectors[0] as TemplateVector) : vectors };
      const updated = await client.update(
        'secgroup',
        secgroup.id,
        { template: serializeTemplate(template, 'native'), format: 'native' },
        secgroup.revision,
      );
      setBase(updated.revision);
      setRows(rowsOf(updated.template));
      toast({ variant: 'success', title: `Security group ${secgroup.id}: ${rows.length} rule(s) saved` });
    } catch (err) {
      setError(toErrorInfo(err));
      throw err;
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {error && <ErrorAlert error={error} title="The rules were not saved" onClose={() => setError(undefined)} />}
      <Table aria-label="Rules" variant="compact" data-testid="secgroup-rules">
        <Thead>
          <Tr>
            <Th width={15}>Direction</Th>
            <Th width={15}>Protocol</Th>
            <Th>Ports (RANGE)</Th>
            <Th>IP or CIDR</Th>
            <Th>Size</Th>
            <Th>Network</Th>
            <Th>ICMP type</Th>
            <Th screenReaderText="Remove" />
          </Tr>
        </Thead>
        <Tbody>
          {rows.map((r, i) => (
            <Tr key={r.key} data-rule={i}>
              <Td>
                <FormSelect
                  aria-label={`Rule ${i + 1} direction`}
                  value={r.RULE_TYPE}
                  onChange={(_e, v) => set(r.key, 'RULE_TYPE', v)}
                >
                  <FormSelectOption value="inbound" label="inbound" />
                  <FormSelectOption value="outbound" label="outbound" />
                </FormSelect>
              </Td>
              <Td>
                <FormSelect
                  aria-label={`Rule ${i + 1} protocol`}
                  value={r.PROTOCOL}
                  onChange={(_e, v) => set(r.key, 'PROTOCOL', v)}
                >
                  {PROTOCOLS.map((p) => (
                    <FormSelectOption key={p} value={p} label={p} />
                  ))}
                </FormSelect>
              </Td>
              {FIELDS.map((f) => (
                <Td key={f}>
                  <TextInput
                    aria-label={`Rule ${i + 1} ${f}`}
                    value={r[f]}
                    placeholder={f === 'RANGE' ? '22,8000:8100' : f === 'IP' ? '10.0.0.0/24' : ''}
                    onChange={(_e, v) => set(r.key, f, v)}
                  />
                </Td>
              ))}
              <Td>
                <Button
                  variant="plain"
                  isDanger
                  aria-label={`Remove rule ${i + 1}`}
                  onClick={() => setRows((rs) => rs.filter((x) => x.key !== r.key))}
                >
                  ✕
                </Button>
              </Td>
            </Tr>
          ))}
          {rows.length === 0 && (
            <Tr>
              <Td colSpan={8}>No rules: with only the default group, a NIC accepts no new inbound connections.</Td>
            </Tr>
          )}
        </Tbody>
      </Table>
      <Flex className="oe-spaced" spaceItems={{ default: 'spaceItemsSm' }}>
        <FlexItem>
          <Button
            variant="secondary"
            onClick={() =>
              setRows((rs) => [
                ...rs,
                {
                  key: nextKey++,
                  RULE_TYPE: 'inbound',
                  PROTOCOL: 'TCP',
                  RANGE: '',
                  IP: '',
                  SIZE: '',
                  NETWORK_ID: '',
                  ICMP_TYPE: '',
                  rest: {},
                },
              ])
            }
          >
            Add rule
          </Button>
        </FlexItem>
        <FlexItem>
          <Button
            variant="primary"
            isDisabled={!dirty || busy}
            isLoading={busy}
            onClick={() => (rows.length < saved.length ? setConfirming(true) : void save().catch(() => {}))}
          >
            Save rules
          </Button>
        </FlexItem>
        <FlexItem>
          <Button variant="link" isDisabled={!dirty || busy} onClick={() => setRows(saved)}>
            Reset
          </Button>
        </FlexItem>
      </Flex>
      {confirming && (
        <ConfirmModal
          title={`Remove ${saved.length - rows.length} rule(s) from ${secgroup.name}?`}
          confirmLabel="Save rules"
          onConfirm={save}
          onClose={() => setConfirming(false)}
        >
          Running VMs using this group lose the removed rules at once; traffic they allowed is dropped.
        </ConfirmModal>
      )}
    </>
  );
}
