import { Button, CodeBlock, CodeBlockCode, EmptyState, EmptyStateBody, Spinner } from '@patternfly/react-core';
import { useState } from 'react';
import { useLoader } from '../data/hooks';
import { useSession } from '../data/session';
import { ErrorAlert } from './error-alert';

/**
 * The workload's console log (stdout/stderr), read from its host through the
 * front-end (`GET /vms/:id/log`). It is fetched again whenever the VM changes
 * (the page follows the event stream) and on Refresh; there is no polling.
 */
export function VmLog({ vmId, revision }: { vmId: number; revision: number }) {
  const { client } = useSession();
  const [nonce, setNonce] = useState(0);
  const log = useLoader(`${vmId}:${revision}:${nonce}`, () => client.vmLog(vmId, 65_536));
  return (
    <div>
      <Button variant="secondary" size="sm" onClick={() => setNonce((n) => n + 1)} aria-label="Refresh the log">
        Refresh
      </Button>
      {log.loading && !log.data ? <Spinner size="md" aria-label="Loading the log" /> : null}
      {log.error ? <ErrorAlert error={log.error} title="The log could not be read" /> : null}
      {log.data && log.data.data === '' ? (
        <EmptyState titleText="The log is empty" headingLevel="h2" variant="sm">
          <EmptyStateBody>The workload has not written anything to stdout or stderr.</EmptyStateBody>
        </EmptyState>
      ) : null}
      {log.data && log.data.data !== '' ? (
        <CodeBlock aria-label="Console log">
          <CodeBlockCode>
            {log.data.truncated ? '… (earlier output cut)\n' : ''}
            {log.data.data}
          </CodeBlockCode>
        </CodeBlock>
      ) : null}
    </div>
  );
}
