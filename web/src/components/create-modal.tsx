import {
  Button,
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
  TextInput,
} from '@patternfly/react-core';
import { useId, useState } from 'react';
import type { ApiObject, ObjectKind } from '../api';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { KIND_INFO } from '../pages/kind-columns';
import { ErrorAlert, ScrollIntoView } from './error-alert';
import { markersFromError, TemplateEditor } from './template-editor';

const STARTER: Partial<Record<ObjectKind, string>> = {
  image: 'TYPE = DATABLOCK\nSIZE = 1024\nPERSISTENT = NO\n',
  datastore: 'TYPE = IMAGE_DS\nDS_MAD = fs\nTM_MAD = local\n',
  vnet: 'VN_MAD = bridge\nBRIDGE = br0\nAR = [ TYPE = IP4, IP = 10.0.0.10, SIZE = 100 ]\n',
  host: '',
  cluster: '',
  group: '',
  user: '',
};

/**
 * Creates any non-VM object: a name, the kind's own fields (a host's cluster,
 * an image's datastore, a user's password and group) and optional template
 * attributes in any syntax, whose errors are marked in the editor.
 */
export function CreateModal({
  kind,
  onClose,
  onCreated,
}: {
  kind: ObjectKind;
  onClose: () => void;
  onCreated: (o: ApiObject) => void;
}) {
  const { client } = useSession();
  const uid = useId().replace(/:/g, '');
  const clusters = usePool('cluster');
  const datastores = usePool('datastore');
  const groups = usePool('group');
  const [name, setName] = useState('');
  const [text, setText] = useState(STARTER[kind] ?? '');
  const [clusterId, setClusterId] = useState('0');
  const [dsId, setDsId] = useState('1');
  const [password, setPassword] = useState('');
  const [groupId, setGroupId] = useState('1');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const singular = KIND_INFO[kind].singular;

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const input: Record<string, unknown> = { name: name.trim() };
      if (text.trim() !== '') input.template = text;
      if (kind === 'host') input.cluster_id = Number(clusterId);
      if (kind === 'image') input.datastore_id = Number(dsId);
      if (kind === 'user') {
        input.password = password;
        input.group_id = Number(groupId);
      }
      const created = await client.create(kind, input);
      onCreated(created);
      onClose();
    } catch (err) {
      setError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  };

  const markers = markersFromError(error);
  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby={`${uid}-title`}>
      <ModalHeader title={`Create ${singular}`} labelId={`${uid}-title`} />
      <ModalBody>
        <Form
          id={`${uid}-form`}
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <FormGroup label="Name" fieldId={`${uid}-name`} isRequired>
            <TextInput id={`${uid}-name`} value={name} onChange={(_e, v) => setName(v)} isRequired />
          </FormGroup>
          {kind === 'host' && (
            <FormGroup label="Cluster" fieldId={`${uid}-cluster`}>
              <FormSelect id={`${uid}-cluster`} value={clusterId} onChange={(_e, v) => setClusterId(v)}>
                {clusters.items.map((c) => (
                  <FormSelectOption key={c.id} value={String(c.id)} label={`${c.id}: ${c.name}`} />
                ))}
              </FormSelect>
            </FormGroup>
          )}
          {kind === 'image' && (
            <FormGroup label="Datastore" fieldId={`${uid}-ds`}>
              <FormSelect id={`${uid}-ds`} value={dsId} onChange={(_e, v) => setDsId(v)}>
                {datastores.items
                  .filter((d) => (d as ApiObject<'datastore'>).type === 'IMAGE')
                  .map((d) => (
                    <FormSelectOption key={d.id} value={String(d.id)} label={`${d.id}: ${d.name}`} />
                  ))}
              </FormSelect>
            </FormGroup>
          )}
          {kind === 'user' && (
            <>
              <FormGroup label="Password" fieldId={`${uid}-pw`} isRequired>
                <TextInput
                  id={`${uid}-pw`}
                  type="password"
                  autoComplete="new-password"
                  value={password}
                  onChange={(_e, v) => setPassword(v)}
                  isRequired
                />
              </FormGroup>
              <FormGroup label="Primary group" fieldId={`${uid}-group`}>
                <FormSelect id={`${uid}-group`} value={groupId} onChange={(_e, v) => setGroupId(v)}>
                  {groups.items.map((g) => (
                    <FormSelectOption key={g.id} value={String(g.id)} label={`${g.id}: ${g.name}`} />
                  ))}
                </FormSelect>
              </FormGroup>
            </>
          )}
          <FormGroup label="Template attributes" fieldId={`${uid}-tpl`}>
            <TemplateEditor
              id={`${uid}-tpl`}
              label="Template attributes"
              value={text}
              onChange={setText}
              markers={markers}
              rows={8}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>OpenNebula syntax, YAML or JSON (detected from the text).</HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          {error && <ErrorAlert error={error} title={`Cannot create the ${singular}`} />}
          {error && <ScrollIntoView key={error.message} />}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          type="submit"
          form={`${uid}-form`}
          isLoading={busy}
          isDisabled={busy || name.trim() === ''}
        >
          Create
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
