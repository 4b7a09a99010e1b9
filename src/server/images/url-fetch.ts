import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { OneError } from '../../core/errors.js';
import { classifyAddress } from './net-address.js';

export interface UrlPolicy {
  /** The administrator allows loopback/private/link-local targets (server flag --allow-internal-image-urls). */
  allowInternal: boolean;
  maxRedirects?: number;
  /** Give up when no response starts within this time (ms). */
  timeoutMs?: number;
}

/** Syntax and scheme checks of an import URL (no network). */
export function parseImportUrl(raw: string): URL {
  if (/^file:/i.test(raw.trim())) {
    throw new OneError('E_URL_SCHEME', `file:// URLs are not imported; upload the file instead`, { url: raw });
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OneError('E_VALIDATION', `PATH '${raw}' is not a URL (http:// or https://)`, { field: 'PATH' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OneError('E_URL_SCHEME', `only http:// and https:// can be imported, got ${url.protocol}//`, {
      url: raw,
    });
  }
  if (url.username || url.password) {
    throw new OneError('E_VALIDATION', 'import URLs must not carry credentials', { field: 'PATH' });
  }
  return url;
}

/** Resolves a URL's host and checks every address; returns the address to connect to. */
export async function checkUrlTarget(url: URL, policy: UrlPolicy): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new OneError('E_IMPORT_FAILED', `cannot resolve ${host}: ${(err as Error).message}`, { host });
    }
  }
  if (addresses.length === 0) throw new OneError('E_IMPORT_FAILED', `${host} has no address`, { host });
  if (!policy.allowInternal) {
    for (const a of addresses) {
      const cls = classifyAddress(a.address);
      if (cls !== 'public') {
        throw new OneError(
          'E_URL_FORBIDDEN',
          `${url.origin} resolves to ${a.address} (${cls}); importing from internal addresses is disabled`,
          { host, address: a.address, class: cls },
        );
      }
    }
  }
  return addresses[0] as { address: string; family: number };
}

/**
 * GETs a URL after checking it; redirects are followed by hand (at most
 * `maxRedirects`) and every hop is checked again. The connection goes to the
 * address that was checked (a custom lookup), so a DNS answer that changes
 * between check and connect cannot redirect the request inside.
 */
export async function openCheckedUrl(
  raw: string,
  policy: UrlPolicy,
  signal?: AbortSignal,
): Promise<{ res: IncomingMessage; url: URL }> {
  let url = parseImportUrl(raw);
  const max = policy.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const target = await checkUrlTarget(url, policy);
    const pinned: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all) cb(null, [target]);
      else cb(null, target.address, target.family);
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method: 'GET', lookup: pinned, signal, headers: { 'user-agent': 'oneedge-image-import' } },
        resolve,
      );
      req.setTimeout(policy.timeoutMs ?? 30_000, () =>
        req.destroy(new OneError('E_IMPORT_FAILED', `${url.origin} did not answer in time`)),
      );
      req.on('error', (err) =>
        reject(err instanceof OneError ? err : new OneError('E_IMPORT_FAILED', `GET ${url.href}: ${err.message}`)),
      );
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= max) throw new OneError('E_IMPORT_FAILED', `more than ${max} redirects from ${raw}`);
      url = parseImportUrl(new URL(res.headers.location, url).href);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new OneError('E_IMPORT_FAILED', `GET ${url.href} answered HTTP ${status}`, { status });
    }
    return { res, url };
  }
}
