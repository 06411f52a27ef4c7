// Builds the channel adapters the config names: `sim` channels talk to the simulator over HTTP,
// `instant` channels answer in-process (benchmarks). A real bank would be one more adapter kind.

import { simSecretFor } from '../channel-sim/secrets.js';
import type { OnlineConfig } from '../config.js';
import { InstantBankChannel } from './instant-bank.js';
import type { ChannelPort } from './port.js';
import { SimChannelAdapter } from './sim-adapter.js';

export interface ChannelWiring {
  /** Where `settle channel-sim` listens (env SETTLE_CHANNEL_SIM_URL, default http://127.0.0.1:7702). */
  readonly simUrl: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Serve every channel with the in-process instant bank instead (benchmarks). */
  readonly instant?: boolean;
}

export const DEFAULT_CHANNEL_SIM_URL = 'http://127.0.0.1:7702';

export function buildChannels(config: OnlineConfig, wiring: ChannelWiring): Map<string, ChannelPort> {
  const channels = new Map<string, ChannelPort>();
  for (const c of config.channels) {
    const port: ChannelPort =
      wiring.instant || c.adapter === 'instant'
        ? new InstantBankChannel({ channelId: c.id, feeRate: c.cost_rate })
        : new SimChannelAdapter({ channelId: c.id, baseUrl: wiring.simUrl, secret: simSecretFor(c.id, wiring.env), timeoutMs: c.timeout_ms });
    channels.set(c.id, port);
  }
  return channels;
}
