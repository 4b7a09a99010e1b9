import {
  Button,
  Checkbox,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useId, useState } from 'react';
import { type ApiObject, formatLetters, type ObjectKind } from '../api';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert } from './error-alert';

const WHO = ['Owner', 'Group', 'Other'] as const;
const RIGHTS = [
  { name: 'Use', bit: 4 },
  { name: 'Manage', bit: 2 },
  { name: 'Admin', bit: 1 },
] as const;

/** Sunstone's permissions grid: owner / group / other × use / manage / admin, sent as octal. */
export function ChmodModal({ kind, object, onClose }: { kind: ObjectKind; object: ApiObject; onClose: () => void }) {
  const { client } = useSession();
  const uid = useId().replace(/:/g, '');
  const [bits, setBits] = useState(() => Number.parseInt(object.permissions, 8) || 0);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const octal = (bits & 0o777).toString(8).padStart(3, '0');

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await client.chmod(kind, object.id, octal, object.revision);
      onClose();
    } catch (err) {
      setError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby={`${uid}-title`}>
      <ModalHeader title={`Permissions of ${object.name}`} labelId={`${uid}-title`} />
      <ModalBody>
        <Table aria-label="Permissions" variant="compact" className="oe-perm-grid">
          <Thead>
            <Tr>
              <Th screenReaderText="Who" />
              {RIGHTS.map((r) => (
                <Th key={r.name}>{r.name}</Th>
              ))}
            </Tr>
          </Thead>
          <Tbody>
            {WHO.map((who, w) => (
              <Tr key={who}>
                <Th>{who}</Th>
                {RIGHTS.map((r) => {
                  const mask = r.bit << (3 * (2 - w));
                  return (
                    <Td key={r.name}>
                      <Checkbox
                        id={`${uid}-${who}-${r.name}`}
                        aria-label={`${who} ${r.name}`}
                        isChecked={(bits & mask) !== 0}
                        onChange={(_e, on) => setBits((b) => (on ? b | mask : b & ~mask))}
                      />
                    </Td>
                  );
                })}
              </Tr>
            ))}
          </Tbody>
        </Table>
        <p className="oe-perm-summary">
          Octal <code data-testid="perm-octal">{octal}</code> · <code>{formatLetters(bits)}</code>
        </p>
        {error && <ErrorAlert error={error} title="Cannot change permissions" />}
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={save} isLoading={busy} isDisabled={busy}>
          Save
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

/** Change owner (administrators) and group (members of it). */
export function ChownModal({ kind, object, onClose }: { kind: ObjectKind; object: ApiObject; onClose: () => void }) {
  const { client, user } = useSession();
  const uid = useId().replace(/:/g, '');
  const users = usePool('user');
  const groups = usePool('group');
  const [owner, setOwner] = useState(String(object.uid));
  const [group, setGroup] = useState(String(object.gid));
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const change: { uid?: number; gid?: number } = {};
      if (Number(owner) !== object.uid) change.uid = Number(owner);
      if (Number(group) !== object.gid) change.gid = Number(group);
      if (change.uid !== undefined || change.gid !== undefined) {
        await client.chown(kind, object.id, change, object.revision);
      }
      onClose();
    } catch (err) {
      setError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  };

  const userOptions = users.items.some((u) => u.id === object.uid)
    ? users.items
    : [{ id: object.uid, name: object.uname }, ...users.items];
  const groupOptions = groups.items.some((g) => g.id === object.gid)
    ? groups.items
    : [{ id: object.gid, name: object.gname }, ...groups.items];

  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby={`${uid}-title`}>
      <ModalHeader title={`Owner and group of ${object.name}`} labelId={`${uid}-title`} />
      <ModalBody>
        <Form onSubmit={(e) => e.preventDefault()}>
          <FormGroup label="Owner" fieldId={`${uid}-owner`}>
            <FormSelect id={`${uid}-owner`} value={owner} onChange={(_e, v) => setOwner(v)} isDisabled={!user.admin}>
              {userOptions.map((u) => (
                <FormSelectOption key={u.id} value={String(u.id)} label={`${u.id}: ${u.name}`} />
              ))}
            </FormSelect>
          </FormGroup>
          <FormGroup label="Group" fieldId={`${uid}-group`}>
            <FormSelect id={`${uid}-group`} value={group} onChange={(_e, v) => setGroup(v)}>
              {groupOptions.map((g) => (
                <FormSelectOption key={g.id} value={String(g.id)} label={`${g.id}: ${g.name}`} />
              ))}
            </FormSelect>
          </FormGroup>
        </Form>
        {error && <ErrorAlert error={error} title="Cannot change ownership" />}
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={save} isLoading={busy} isDisabled={busy}>
          Save
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
