import 'reflect-metadata';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** The front-end's certificate authority and the agent listener's server certificate. */
export interface Pki {
  caPem: string;
  /** SHA-256 of the CA certificate (DER), hex: what `oneedge agent --ca-hash` pins. */
  caHash: string;
  certPem: string;
  keyPem: string;
  /**
   * Keys that encrypt the agent listener's TLS session tickets (48 bytes), kept
   * across restarts so agents resume their sessions after one (0600, like a key).
   */
  ticketKeys: Buffer;
}

export function certificateHash(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

function localAddresses(): string[] {
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return [...out];
}

/**
 * Loads the PKI from `<data-dir>/pki`, creating it on first start: a
 * self-signed CA (ECDSA P-256, 10 years) and a server certificate for the
 * agent listener signed by it (2 years), named for this machine's host name
 * and addresses plus `extraNames`. Agents pin the CA by hash, so a missing
 * name does not weaken the channel (see docs/agents.md). Private keys are 0600.
 */
export async function loadOrCreatePki(dataDir: string, extraNames: readonly string[] = []): Promise<Pki> {
  const dir = join(dataDir, 'pki');
  const paths = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'agent-listener.crt'),
    key: join(dir, 'agent-listener.key'),
    ticketKeys: join(dir, 'tls-ticket.keys'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.caCert) || !existsSync(paths.caKey)) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=ONEedge CA ${hostname()}`,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    await writeFile(paths.caKey, await exportKeyPem(keys.privateKey), { mode: 0o600 });
    await writeFile(paths.caCert, ca.toString('pem'), { mode: 0o644 });
  }
  const caPem = await readFile(paths.caCert, 'utf8');
  if (!existsSync(paths.cert) || !existsSync(paths.key)) {
    const caKey = await importKeyPem(await readFile(paths.caKey, 'utf8'));
    const ca = new x509.X509Certificate(caPem);
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const names = [...new Set([hostname(), 'localhost', ...localAddresses(), ...extraNames])];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${hostname()}`,
      issuer: ca.subject,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 730 * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) =>
            /^[0-9.]+$|:/.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
          ),
        ),
      ],
    });
    await writeFile(paths.key, await exportKeyPem(keys.privateKey), { mode: 0o600 });
    await writeFile(paths.cert, cert.toString('pem'), { mode: 0o644 });
  }
  if (!existsSync(paths.ticketKeys)) await writeFile(paths.ticketKeys, randomBytes(48), { mode: 0o600 });
  let ticketKeys = await readFile(paths.ticketKeys);
  if (ticketKeys.length !== 48) {
    // Damaged: new keys only cost the agents one full handshake each.
    ticketKeys = randomBytes(48);
    await writeFile(paths.ticketKeys, ticketKeys, { mode: 0o600 });
  }
  return {
    caPem,
    caHash: certificateHash(caPem),
    certPem: await readFile(paths.cert, 'utf8'),
    keyPem: await readFile(paths.key, 'utf8'),
    ticketKeys,
  };
}

function randomSerial(): string {
  // Positive, 16 bytes: the high bit cleared so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
