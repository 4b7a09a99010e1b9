import { Button, Flex, FlexItem, Label } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import type { ApiObject } from '../api';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert } from './error-alert';

type Status = 'connecting' | 'following' | 'ended' | 'stopped' | 'failed';

/** The page keeps at most this much output (the oldest lines go first). */
const MAX_CHARS = 512 * 1024;
const TAIL_BYTES = 64 * 1024;

const STATUS_TEXT: Record<Status, string> = {
  connecting: 'Connecting…',
  following: 'Live',
  ended: 'Ended',
  stopped: 'Paused',
  failed: 'Disconnected',
};

/**
 * A container's console: its workload's stdout/stderr as it is written,
 * followed through `GET /vms/:id/log?follow=true` (one streamed response the
 * front-end relays from the host's agent; nothing polls). New output is
 * appended once per animation frame, and the view stays scrolled to the end
 * unless the reader scrolled up. Leaving the tab closes the stream, which
 * makes the agent stop following.
 */
export function VmLogFollow({ vm }: { vm: ApiObject<'vm'> }) {
  const { client } = useSession();
  const [text, setText] = useState('');
  const [truncated, setTruncated] = useState(false);
  const [status, setStatus] = useState<Status>('connecting');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [attempt, setAttempt] = useState(0);
  const [paused, setPaused] = useState(false);
  const view = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const onHost = vm.state === 'ACTIVE' && vm.host_id !== null;
  const hostId = vm.host_id;

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new attempt, host or state restarts the stream
  useEffect(() => {
    if (!onHost || paused) {
      setStatus(onHost ? 'stopped' : 'ended');
      return;
    }
    const abort = new AbortController();
    let pending = '';
    let frame: number | undefined;
    const flush = () => {
      frame = undefined;
      const add = pending;
      pending = '';
      setText((old) => {
        const next = old + add;
        if (next.length <= MAX_CHARS) return next;
        const cut = next.indexOf('\n', next.length - MAX_CHARS);
        return next.slice(cut === -1 ? next.length - MAX_CHARS : cut + 1);
      });
    };
    setText('');
    setTruncated(false);
    setError(undefined);
    setStatus('connecting');
    client
      .followVmLog(
        vm.id,
        (chunk) => {
          if (chunk.truncated) setTruncated(true);
          setStatus('following');
          if (chunk.data === '') return;
          pending += chunk.data;
          if (frame === undefined) frame = requestAnimationFrame(flush);
        },
        abort.signal,
        { tail: TAIL_BYTES },
      )
      .then(({ end }) => {
        if (!abort.signal.aborted) setStatus(end === 'aborted' ? 'stopped' : 'ended');
      })
      .catch((err: unknown) => {
        if (abort.signal.aborted) return;
        setError(toErrorInfo(err));
        setStatus('failed');
      });
    return () => {
      abort.abort();
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }, [client, vm.id, hostId, onHost, vm.lcm_state, attempt, paused]);

  // Keep the newest output in view unless the reader scrolled up.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs after each append
  useEffect(() => {
    const el = view.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [text]);

  const live = status === 'following' || status === 'connecting';
  return (
    <div>
      <Flex alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem>
          <Label
            color={status === 'following' ? 'green' : status === 'failed' ? 'red' : 'grey'}
            data-testid="log-follow-status"
            data-status={status}
          >
            {STATUS_TEXT[status]}
          </Label>
        </FlexItem>
        {onHost ? (
          <FlexItem>
            {live ? (
              <Button variant="secondary" size="sm" onClick={() => setPaused(true)}>
                Pause
              </Button>
            ) : (
              <Button
                variant="secondary"
                size="sm"
                onClick={() => {
                  setPaused(false);
                  setAttempt((n) => n + 1);
                }}
              >
                Follow again
              </Button>
            )}
          </FlexItem>
        ) : (
          <FlexItem className="oe-muted">The VM is not running on a host, so its workload writes nothing.</FlexItem>
        )}
      </Flex>
      {error ? <ErrorAlert error={error} title="The log stream stopped" /> : null}
      <pre
        ref={view}
        className="oe-log-live"
        role="log"
        aria-label="Console output"
        data-testid="log-follow-output"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the output scrolls; keyboard users need to reach it
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {truncated ? '… (earlier output cut)\n' : ''}
        {text}
      </pre>
    </div>
  );
}
