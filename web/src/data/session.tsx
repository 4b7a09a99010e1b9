import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { type ObjectKind, OneEdgeClient, type SessionUser } from '../api';
import { toErrorInfo } from '../lib/errors';
import { EventHub } from './event-hub';
import { PoolStore } from './pool-store';

const STORAGE_KEY = 'oneedge.session';

interface StoredSession {
  token: string;
  user: SessionUser;
  expiresAt: number;
}

/** Everything a signed-in page needs: the client, who we are, the event stream and the live pools. */
export interface Session {
  client: OneEdgeClient;
  user: SessionUser;
  hub: EventHub;
  pool<K extends ObjectKind>(kind: K, includeDone?: boolean): PoolStore<K>;
  logout(): Promise<void>;
}

interface AuthState {
  session: Session | undefined;
  /** Why the last session ended (shown on the login page). */
  endedBecause: string | undefined;
  login(username: string, password: string): Promise<void>;
}

const AuthContext = createContext<AuthState | undefined>(undefined);

/** The front-end serving this page is the API's home (`npm run dev` proxies /api). */
function apiBase(): string {
  return window.location.origin;
}

function readStored(): StoredSession | undefined {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as StoredSession;
    return s.expiresAt > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

function makeSession(stored: StoredSession, end: (reason: string | undefined) => void): Session {
  const client = new OneEdgeClient(apiBase(), stored.token);
  const hub = new EventHub(client, (err) => {
    const info = toErrorInfo(err);
    end(`${info.message} (${info.code})`);
  });
  const pools = new Map<string, PoolStore<ObjectKind>>();
  return {
    client,
    user: stored.user,
    hub,
    pool<K extends ObjectKind>(kind: K, includeDone = false): PoolStore<K> {
      const key = `${kind}:${includeDone}`;
      let store = pools.get(key);
      if (!store) {
        store = new PoolStore(client, hub, kind, includeDone) as unknown as PoolStore<ObjectKind>;
        pools.set(key, store);
      }
      return store as unknown as PoolStore<K>;
    },
    async logout() {
      try {
        await client.logout();
      } finally {
        end(undefined);
      }
    },
  };
}

/**
 * Holds the session: the token lives in sessionStorage (one browser tab, gone
 * when the tab closes), is checked with `whoami` on reload, and a 401 from
 * the event stream ends the session with its reason.
 */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [endedBecause, setEndedBecause] = useState<string | undefined>(undefined);
  const [restoring, setRestoring] = useState(true);

  const end = useCallback((reason: string | undefined) => {
    sessionStorage.removeItem(STORAGE_KEY);
    setSession((old) => {
      old?.hub.stop();
      return undefined;
    });
    setEndedBecause(reason);
  }, []);

  useEffect(() => {
    const stored = readStored();
    if (!stored) {
      setRestoring(false);
      return;
    }
    const s = makeSession(stored, end);
    s.client
      .whoami()
      .then((user) => {
        s.hub.start();
        setSession({ ...s, user });
      })
      .catch((err) => {
        const info = toErrorInfo(err);
        sessionStorage.removeItem(STORAGE_KEY);
        setEndedBecause(`${info.message} (${info.code})`);
      })
      .finally(() => setRestoring(false));
  }, [end]);

  const login = useCallback(
    async (username: string, password: string) => {
      const client = await OneEdgeClient.login(apiBase(), username, password);
      const stored: StoredSession = {
        token: client.token ?? '',
        user: client.session!.user,
        expiresAt: client.session!.expires_at,
      };
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
      const s = makeSession(stored, end);
      s.hub.start();
      setEndedBecause(undefined);
      setSession(s);
    },
    [end],
  );

  const value = useMemo(() => ({ session, endedBecause, login }), [session, endedBecause, login]);
  if (restoring) return null;
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}

/** The signed-in session; only pages under the authenticated layout call this. */
export function useSession(): Session {
  const { session } = useAuth();
  if (!session) throw new Error('useSession without a session');
  return session;
}
