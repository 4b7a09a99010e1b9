import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { OneError } from '../../core/errors.js';

const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Hashes with scrypt; the parameters travel inside the hash so they can be raised later. */
export async function hashPassword(password: string, cost: number): Promise<string> {
  checkPassword(password);
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost, R, P);
  return `scrypt$${cost}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function checkPassword(password: string): void {
  if (password.length < 8) throw new OneError('E_USER_PASSWORD', 'the password must have at least 8 characters');
  if (password.length > 1024) throw new OneError('E_USER_PASSWORD', 'the password must have at most 1024 characters');
}

/** A random password for generated accounts (oneadmin's first start). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
