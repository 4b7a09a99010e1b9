import { useEffect, useState } from 'react';
import type { CloudSummary } from '../api';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { useSession } from './session';

/** The quietest a burst of changes can make the dashboard re-count: once per this many ms. */
const MIN_GAP_MS = 750;

/**
 * `GET /summary` (counts by state, allocated capacity, object counts — done
 * by the database), re-read when the event stream reports a change that
 * moves a number (create, delete, a VM or host changing state). A burst
 * of events costs one re-read per MIN_GAP_MS at most; nothing is read while
 * nothing changes (no polling).
 */
export function useSummary(): { summary: CloudSummary | undefined; error: ErrorInfo | undefined } {
  const { client, hub } = useSession();
  const [summary, setSummary] = useState<CloudSummary | undefined>(undefined);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  useEffect(() => {
    let live = true;
    let busy = false;
    let again = false;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      last = Date.now();
      client
        .summary()
        .then((s) => {
          if (!live) return;
          setSummary(s);
          setError(undefined);
        })
        .catch((err) => live && setError(toErrorInfo(err)))
        .finally(() => {
          busy = false;
          if (live && again) {
            again = false;
            schedule();
          }
        });
    };
    const schedule = () => {
      if (timer !== undefined) return;
      timer = setTimeout(
        () => {
          timer = undefined;
          load();
        },
        Math.max(0, last + MIN_GAP_MS - Date.now()),
      );
    };
    load();
    // Only changes that move a number: creates, deletes, and state changes of VMs and hosts
    // (a host's monitoring update or a VM's scheduler message re-counts nothing).
    const seen = new Map<string, string>();
    const off = hub.subscribe((batch) => {
      let moved = batch.resync;
      for (const e of batch.events) {
        if (e.op !== 'update') moved = true;
        else if (e.kind === 'vm' || e.kind === 'host') {
          const key = `${e.kind}:${e.id}`;
          const state = `${e.state ?? ''}/${e.lcm_state ?? ''}`;
          // An object first seen in an update may have moved: count it once.
          if (seen.get(key) !== state) moved = true;
          seen.set(key, state);
        }
      }
      if (moved) schedule();
    });
    return () => {
      live = false;
      off();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [client, hub]);
  return { summary, error };
}
