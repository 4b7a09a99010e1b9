import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseAuthFile } from './args.js';

/** What `~/.oneedge/token` holds: a bearer token for one front-end URL. */
export interface CachedToken {
  url: string;
  token: string;
  /** ms since the epoch */
  expires_at: number;
  user?: string;
}

/** A token this close to expiry is not used; logging in again is cheaper than a failed command. */
export const EXPIRY_MARGIN_MS = 60_000;

function isCachedToken(v: unknown): v is CachedToken {
  const t = v as Partial<CachedToken> | null;
  return (
    !!t &&
    typeof t.url === 'string' &&
    typeof t.token === 'string' &&
    typeof t.expires_at === 'number' &&
    t.token !== ''
  );
}

/** The cached token, or undefined when there is none or the file is unreadable or malformed. */
export async function readCachedToken(file: string): Promise<CachedToken | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isCachedToken(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** True when `cached` is for `url` and still valid for a while. */
export function usableToken(cached: CachedToken | undefined, url: string, now: number): cached is CachedToken {
  return !!cached && cached.url === url && cached.expires_at - EXPIRY_MARGIN_MS > now;
}

/** Writes the token file readable by its owner only (directory 0700, file 0600), atomically. */
export async function writeCachedToken(file: string, token: CachedToken): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(token)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export async function removeCachedToken(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Credentials from an auth file (`user:password`); undefined when the file does not exist. */
export async function readCredentials(file: string): Promise<{ username: string; password: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseAuthFile(text, file);
}
