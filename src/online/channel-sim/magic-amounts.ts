// Magic amounts: the last two digits of an amount in minor units pick an outcome, so a test can ask for
// a decline or a failure without touching the simulator's knobs. Shared by the HTTP simulator and the
// in-process instant bank. Only amounts whose minor units end in these digits are affected; every
// other amount goes through normally (e.g. 100.51 CNY = 10051 declines, 100.50 succeeds).

export type MagicEffect =
  /** A business decline with this code (on an asynchronous channel it comes in the notification). */
  | { readonly kind: 'decline'; readonly declineCode: string; readonly message: string }
  /** Recorded and applied, but the answer is held past the client's timeout (or the socket reset). */
  | { readonly kind: 'timeout' }
  /** 503 before anything is recorded. */
  | { readonly kind: 'unavailable' }
  /** Recorded and applied, but the answer is not JSON. */
  | { readonly kind: 'garbage' };

export const MAGIC_AMOUNT_ENDINGS: Readonly<Record<string, MagicEffect>> = {
  '51': { kind: 'decline', declineCode: 'insufficient_funds', message: 'Insufficient funds (magic amount ending in 51).' },
  '52': { kind: 'decline', declineCode: 'card_refused', message: 'The issuer refused the card (magic amount ending in 52).' },
  '61': { kind: 'timeout' },
  '62': { kind: 'unavailable' },
  '63': { kind: 'garbage' },
};

export function magicEffectOf(amountMinor: bigint): MagicEffect | undefined {
  const ending = (amountMinor % 100n).toString().padStart(2, '0');
  return MAGIC_AMOUNT_ENDINGS[ending];
}
