// One-time codes of a challenge (增强验证). The code is sent to the payer and stored only as a salted
// SHA-256; a 6-digit code is guessable offline from its hash, so what protects it is the attempt limit
// and the expiry, both enforced where the hash is checked.

import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export interface IssuedCode {
  readonly code: string;
  readonly salt: string;
  readonly codeHash: string;
}

export function hashCode(paymentId: string, salt: string, code: string): string {
  return createHash('sha256').update(`${paymentId}\n${salt}\n${code}`).digest('hex');
}

export function issueCode(paymentId: string, digits: number): IssuedCode {
  const code = String(randomInt(0, 10 ** digits)).padStart(digits, '0');
  const salt = randomBytes(16).toString('hex');
  return { code, salt, codeHash: hashCode(paymentId, salt, code) };
}

export function codeMatches(paymentId: string, salt: string, codeHash: string, candidate: string): boolean {
  const a = Buffer.from(hashCode(paymentId, salt, candidate), 'hex');
  const b = Buffer.from(codeHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `138****5678`: enough for the payer to recognise the phone, not enough to leak it. */
export function phoneHint(phone: string): string {
  return phone.length <= 4 ? '****' : `${phone.slice(0, Math.min(3, phone.length - 4))}****${phone.slice(-4)}`;
}
