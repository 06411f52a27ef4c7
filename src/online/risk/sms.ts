// The SMS port: how a one-time code reaches the payer. The built-in adapters append to a file (NDJSON,
// one message per line; what a developer or a test reads) or write to the log; a real SMS gateway is one
// more adapter of this port.

import { appendFile } from 'node:fs/promises';

export interface SmsMessage {
  readonly to: string;
  readonly text: string;
  /** What the message is about (the payment id), for the audit trail; never the code itself. */
  readonly reference: string;
}

export interface SmsPort {
  send(message: SmsMessage): Promise<void>;
}

export function fileSms(path: string): SmsPort {
  return {
    async send(message) {
      await appendFile(path, `${JSON.stringify({ at: new Date().toISOString(), ...message })}\n`, { mode: 0o600 });
    },
  };
}

/** For a daemon with no SMS file: logs that a message went out, never its text (it holds the code). */
export function logSms(log: (line: Record<string, unknown>) => void): SmsPort {
  return {
    async send(message) {
      log({ sms: { to: message.to.length > 4 ? `****${message.to.slice(-4)}` : '****', reference: message.reference, text: 'withheld: set online.risk.otp.sms_file to read it' } });
    },
  };
}
