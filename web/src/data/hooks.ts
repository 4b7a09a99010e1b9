import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { ApiObject, ObjectKind } from '../api';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import type { PoolSnapshot, PoolStore } from './pool-store';
import { useSession } from './session';

/** A live pool: re-renders when the event stream changes any of its objects. */
export function usePool<K extends ObjectKind>(kind: K, includeDone = false): PoolSnapshot<K> & { store: PoolStore<K> } {
  const session = useSession();
  const store = session.pool(kind, includeDone);
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return { ...snap, store };
}

export interface ObjectState<K extends ObjectKind> {
  object: ApiObject<K> | undefined;
  loading: boolean;
  error: ErrorInfo | undefined;
  /** The object was deleted while shown. */
  deleted: boolean;
  reload(): void;
}

/**
 * One object, re-read whenever the event stream names it (and only then).
 * `onChange` runs after each re-read, e.g. to refresh a VM's allowed actions.
 */
export function useObject<K extends ObjectKind>(kind: K, id: number): ObjectState<K> {
  const { client, hub } = useSession();
  const [object, setObject] = useState<ApiObject<K> | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [deleted, setDeleted] = useState(false);
  const seq = useRef(0);

  const load = useCallback(() => {
    const mine = ++seq.current;
    client
      .get(kind, id)
      .then((o) => {
        if (mine !== seq.current) return;
        setObject(o);
        setError(undefined);
      })
      .catch((err) => {
        if (mine !== seq.current) return;
        const info = toErrorInfo(err);
        if (info.code === 'E_NOT_FOUND') setDeleted(true);
        setError(info);
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
  }, [client, kind, id]);

  useEffect(() => {
    setObject(undefined);
    setLoading(true);
    setDeleted(false);
    setError(undefined);
    load();
    return hub.subscribe((batch) => {
      if (batch.resync) return load();
      const hit = batch.events.filter((e) => e.kind === kind && e.id === id);
      if (hit.length === 0) return;
      if (hit.some((e) => e.op === 'delete')) {
        setDeleted(true);
        return;
      }
      load();
    });
  }, [hub, kind, id, load]);

  return useMemo(() => ({ object, loading, error, deleted, reload: load }), [object, loading, error, deleted, load]);
}

/** Runs an async loader whenever its key changes (the loader gets the key); for data events do not carry. */
export function useLoader<T>(
  key: string,
  loader: (key: string) => Promise<T>,
): { data: T | undefined; error: ErrorInfo | undefined; loading: boolean } {
  const [state, setState] = useState<{ data: T | undefined; error: ErrorInfo | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const loaderRef = useRef(loader);
  loaderRef.current = loader;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loaderRef
      .current(key)
      .then((data) => live && setState({ data, error: undefined, loading: false }))
      .catch((err) => live && setState({ data: undefined, error: toErrorInfo(err), loading: false }));
    return () => {
      live = false;
    };
  }, [key]);
  return state;
}
