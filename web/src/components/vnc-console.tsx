import { Button, Flex, FlexItem, Label } from '@patternfly/react-core';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiObject } from '../api';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert } from './error-alert';

type RfbInstance = InstanceType<typeof import('@novnc/novnc').default>;
type Status = 'idle' | 'connecting' | 'connected' | 'disconnected';

/** Whether a VM's template asks for a VNC console (GRAPHICS = [ TYPE = VNC ]). */
export function hasVncGraphics(vm: ApiObject<'vm'>): boolean {
  const g = vm.template.GRAPHICS;
  const all = g === undefined ? [] : Array.isArray(g) ? g : [g];
  return all.some((v) => typeof v === 'object' && (v.TYPE ?? '').toUpperCase() === 'VNC');
}

/**
 * The VM's VNC console in noVNC, through the front-end's console proxy:
 * `POST /vms/{id}/vnc-token` (MANAGE; single-use, short-lived) gives a
 * WebSocket URL that the front-end relays over the host's agent channel, so
 * the host needs no inbound port. noVNC is loaded only when a console opens.
 * A new token is asked for every (re)connection.
 */
export function VncConsole({ vm }: { vm: ApiObject<'vm'> }) {
  const { client } = useSession();
  const screen = useRef<HTMLDivElement>(null);
  const rfb = useRef<RfbInstance | null>(null);
  const [status, setStatus] = useState<Status>('idle');
  const [detail, setDetail] = useState('');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const running = vm.state === 'ACTIVE' && vm.lcm_state === 'RUNNING';

  const disconnect = useCallback(() => {
    rfb.current?.disconnect();
    rfb.current = null;
  }, []);

  const connect = useCallback(async () => {
    disconnect();
    setError(undefined);
    setStatus('connecting');
    setDetail('');
    try {
      const [{ wsUrl }, mod] = await Promise.all([client.vmVncToken(vm.id), import('@novnc/novnc')]);
      const el = screen.current;
      if (!el) return;
      const r = new mod.default(el, wsUrl, { shared: true });
      r.scaleViewport = true;
      r.background = '#151515';
      r.addEventListener('connect', () => setStatus('connected'));
      r.addEventListener('desktopname', (e) => setDetail((e as CustomEvent<{ name: string }>).detail.name));
      r.addEventListener('disconnect', (e) => {
        const clean = (e as CustomEvent<{ clean: boolean }>).detail.clean;
        if (rfb.current === r) rfb.current = null;
        setStatus('disconnected');
        setDetail(clean ? 'closed' : 'the connection was lost or refused');
      });
      r.addEventListener('securityfailure', (e) =>
        setError({
          code: 'E_VNC_SECURITY',
          message: (e as CustomEvent<{ reason?: string }>).detail.reason ?? 'VNC security negotiation failed',
          details: {},
        }),
      );
      r.addEventListener('credentialsrequired', () =>
        setError({ code: 'E_VNC_CREDENTIALS', message: 'the VNC server asks for a password', details: {} }),
      );
      rfb.current = r;
    } catch (err) {
      setStatus('idle');
      setError(toErrorInfo(err));
    }
  }, [client, vm.id, disconnect]);

  // Connect when the tab opens on a running VM; close the session when it closes.
  // biome-ignore lint/correctness/useExhaustiveDependencies: connect once per VM while it runs; reconnecting is the user's call
  useEffect(() => {
    if (running) void connect();
    return disconnect;
  }, [running, vm.id]);

  return (
    <>
      <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem>
          <Label
            data-testid="vnc-status"
            data-status={status}
            color={status === 'connected' ? 'green' : status === 'connecting' ? 'blue' : 'grey'}
          >
            {status === 'connected' ? `connected${detail ? `: ${detail}` : ''}` : status}
            {status === 'disconnected' && detail ? ` (${detail})` : ''}
          </Label>
        </FlexItem>
        <FlexItem>
          <Button variant="secondary" size="sm" onClick={() => void connect()} isDisabled={!running}>
            {status === 'connected' ? 'Reconnect' : 'Connect'}
          </Button>
        </FlexItem>
        <FlexItem>
          <Button
            variant="secondary"
            size="sm"
            isDisabled={status !== 'connected'}
            onClick={() => rfb.current?.sendCtrlAltDel()}
          >
            Send Ctrl+Alt+Del
          </Button>
        </FlexItem>
        <FlexItem>
          <Button variant="link" size="sm" isDisabled={status !== 'connected'} onClick={disconnect}>
            Disconnect
          </Button>
        </FlexItem>
      </Flex>
      {!running && <p className="oe-muted oe-spaced">The console is available while the VM is RUNNING.</p>}
      {error && <ErrorAlert error={error} title="Console" onClose={() => setError(undefined)} />}
      <div
        ref={screen}
        className="oe-vnc-screen"
        role="application"
        aria-label={`Console of VM ${vm.id}; keyboard input goes to the VM while focused`}
      />
    </>
  );
}
