import {
  Button,
  Flex,
  FlexItem,
  Form,
  FormGroup,
  PageSection,
  Spinner,
  Tab,
  Tabs,
  TabTitleText,
  TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useState } from 'react';
import { readUserInputs } from '../api';
import { Facts } from '../components/attributes';
import { ErrorAlert } from '../components/error-alert';
import { InstantiateModal } from '../components/instantiate-modal';
import { OwnershipActions } from '../components/object-actions';
import { PageHeader } from '../components/page-header';
import { EditableTemplate, type FormatChoice, TemplateTextField } from '../components/template-form';
import { useToast } from '../components/toasts';
import { useObject } from '../data/hooks';
import { useSession } from '../data/session';
import { optionsText } from '../lib/answers';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { formatTime } from '../lib/format';
import { navigate } from '../router';

const STARTER = `NAME = "my-vm"
CPU = 0.5
VCPU = 1
MEMORY = 512
DISK = [ TYPE = fs, SIZE = 1024 ]
CONTEXT = [ NETWORK = YES, SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]", GREETING = "$GREETING" ]
USER_INPUTS = [ GREETING = "O|text|Greeting shown at login||hello" ]
`;

/** A new template: nothing is stored until the API accepts the text. */
export function NewTemplatePage() {
  const { client } = useSession();
  const toast = useToast();
  const [name, setName] = useState('');
  const [text, setText] = useState(STARTER);
  const [format, setFormat] = useState<FormatChoice>('auto');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const created = await client.create('template', {
        ...(name.trim() ? { name: name.trim() } : {}),
        template: text,
        format,
      });
      toast({ variant: 'success', title: `Created template ${created.id}: ${created.name}` });
      navigate(`/templates/${created.id}`);
    } catch (err) {
      setError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader
        title="New VM template"
        crumbs={[{ to: '/templates', label: 'VM Templates' }]}
        description="OpenNebula syntax, YAML or JSON. The name comes from the field below or the template's NAME."
      />
      <PageSection>
        <Form
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
          className="oe-wide-form"
        >
          <FormGroup label="Name" fieldId="new-template-name">
            <TextInput id="new-template-name" value={name} onChange={(_e, v) => setName(v)} placeholder="(from NAME)" />
          </FormGroup>
          <TemplateTextField
            text={text}
            onText={setText}
            format={format}
            onFormat={setFormat}
            error={error ? { info: error, source: 'api' } : undefined}
          />
          <Flex spaceItems={{ default: 'spaceItemsSm' }}>
            <FlexItem>
              <Button type="submit" variant="primary" isLoading={busy} isDisabled={busy}>
                Create
              </Button>
            </FlexItem>
            <FlexItem>
              <Button variant="link" onClick={() => navigate('/templates')}>
                Cancel
              </Button>
            </FlexItem>
          </Flex>
        </Form>
      </PageSection>
    </>
  );
}

export function TemplateDetailPage({ id }: { id: number }) {
  const { object: tpl, error, loading } = useObject('template', id);
  const [tab, setTab] = useState<string | number>('info');
  const [instantiating, setInstantiating] = useState(false);
  const toast = useToast();

  if (!tpl) {
    return (
      <>
        <PageHeader title={`Template ${id}`} crumbs={[{ to: '/templates', label: 'VM Templates' }]} />
        <PageSection>
          {loading ? <Spinner aria-label="Loading template" /> : error && <ErrorAlert error={error} />}
        </PageSection>
      </>
    );
  }
  const { inputs, issues: problems } = readUserInputs(tpl.template);
  return (
    <>
      <PageHeader
        title={tpl.name}
        crumbs={[{ to: '/templates', label: 'VM Templates' }]}
        badge={<span className="oe-muted">#{tpl.id}</span>}
        actions={
          <Button variant="primary" onClick={() => setInstantiating(true)}>
            Instantiate
          </Button>
        }
      />
      <PageSection>
        <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Template details" mountOnEnter>
          <Tab eventKey="info" title={<TabTitleText>Info</TabTitleText>}>
            <div className="oe-tab-body">
              <Facts
                items={[
                  ['ID', tpl.id],
                  ['Name', tpl.name],
                  ['Owner', tpl.uname],
                  ['Group', tpl.gname],
                  ['Permissions', <code key="p">{tpl.permissions}</code>],
                  ['Registered', formatTime(tpl.created_at)],
                  ['Updated', formatTime(tpl.updated_at)],
                  ['Revision', tpl.revision],
                ]}
              />
              <div className="oe-spaced">
                <OwnershipActions kind="template" object={tpl} afterDelete="/templates" />
              </div>
            </div>
          </Tab>
          <Tab eventKey="template" title={<TabTitleText>Template</TabTitleText>}>
            <EditableTemplate key={tpl.id} kind="template" object={tpl} />
          </Tab>
          <Tab eventKey="inputs" title={<TabTitleText>User inputs ({inputs.length})</TabTitleText>}>
            <div className="oe-tab-body">
              {problems.map((p) => (
                <ErrorAlert
                  key={p.attribute}
                  error={{ code: 'E_TEMPLATE_INVALID', message: `${p.attribute}: ${p.message}`, details: {} }}
                />
              ))}
              <Table aria-label="User inputs" variant="compact">
                <Thead>
                  <Tr>
                    <Th>Variable</Th>
                    <Th>Type</Th>
                    <Th>Description</Th>
                    <Th>Options</Th>
                    <Th>Default</Th>
                    <Th>Mandatory</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {inputs.map((i) => (
                    <Tr key={i.name}>
                      <Td>
                        <code>${i.name}</code>
                      </Td>
                      <Td>{i.type}</Td>
                      <Td>{i.description}</Td>
                      <Td>{optionsText(i)}</Td>
                      <Td>{i.type === 'password' && i.default ? '••••' : (i.default ?? '')}</Td>
                      <Td>{i.mandatory ? 'yes' : 'no'}</Td>
                    </Tr>
                  ))}
                  {inputs.length === 0 && (
                    <Tr>
                      <Td colSpan={6}>This template asks nothing at instantiation.</Td>
                    </Tr>
                  )}
                </Tbody>
              </Table>
            </div>
          </Tab>
        </Tabs>
      </PageSection>
      {instantiating && (
        <InstantiateModal
          template={tpl}
          onClose={() => setInstantiating(false)}
          onCreated={(vms) => {
            toast({ variant: 'success', title: `Created ${vms.length} VM(s): ${vms.map((v) => v.id).join(', ')}` });
            const first = vms[0];
            if (vms.length === 1 && first) navigate(`/vms/${first.id}`);
            else navigate('/vms');
          }}
        />
      )}
    </>
  );
}
