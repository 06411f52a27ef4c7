// Random choices (declines, timeouts) that are reproducible: each draw is a hash of the seed and what
// it is for (channel, operation, reference, purpose), so the same seed gives the same outcomes for the
// same references whatever order requests arrive in. Without --seed a random seed is chosen at start
// and shown by GET /admin/channels, so a surprising run can be replayed.

import { createHash, randomInt } from 'node:crypto';

export function randomSeed(): string {
  return String(randomInt(0, 2 ** 47));
}

/** A number in [0, 1) decided by the seed and the parts. */
export function draw(seed: string, ...parts: readonly string[]): number {
  const digest = createHash('sha256').update([seed, ...parts].join('\n')).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
