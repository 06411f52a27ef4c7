// Where each simulated channel's shared secret comes from, for the simulator and for the daemon that
// talks to it: the environment variable SETTLE_SIM_SECRET_<CHANNEL> (channel id upper-cased, '-' as
// '_'), else the config file, else a development default that is printed in the docs and therefore
// secret from nobody. Both sides call simSecretFor, so they agree without configuration on a laptop.

export const DEV_SECRET_PREFIX = 'settle-sim-dev-secret-';

export function simSecretEnvName(channelId: string): string {
  return `SETTLE_SIM_SECRET_${channelId.toUpperCase().replace(/-/g, '_')}`;
}

export function devSecretFor(channelId: string): string {
  return `${DEV_SECRET_PREFIX}${channelId}`;
}

/** The secret of a channel: the environment first, then the configured value, then the dev default. */
export function simSecretFor(channelId: string, env: Readonly<Record<string, string | undefined>>, configured?: string): string {
  const fromEnv = env[simSecretEnvName(channelId)];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return configured ?? devSecretFor(channelId);
}
