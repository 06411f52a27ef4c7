// The simulator's daily bills: for day D, each channel's file in its real format, from the simulator's
// own record (the succeeded money movements whose business date is D), optionally with injected
// trouble, plus a manifest saying what was written and what was changed. Used by
// `settle channel-sim bills` and callable by a running simulator (it serves the folder).
//
// Layout of the output folder: <outDir>/<channel>/<bill file> and <outDir>/<channel>/manifest_<yyyyMMdd>.json.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIsoDate, nextDate } from '../../../ledger/index.js';
import { BILL_FORMATS, type BillFormat, type SimChannel, type SimConfig } from '../config.js';
import type { SimStore } from '../store.js';
import { alipayEntryNames, alipayRowOf, AlipayTradeBillWriter, alipayZipName } from './alipay.js';
import { BillError } from './errors.js';
import { BILL_LIMITS } from './limits.js';
import { BILL_CURRENCY, billRowOf, type BillRow } from './rows.js';
import { fileDigest, FileOut, TextOut } from './sinks.js';
import { compactDate, gbk, LocalClock, previousDate, utf8 } from './text.js';
import { applyTroubles, hasTrouble, type InjectSpec, planTroubles, type TroubleContext, type TroubleRecord, TROUBLE_KINDS } from './troubles.js';
import { WechatTradeBillWriter, wechatRowOf } from './wechat.js';
import { zmFileName, zmLine, zmRecordOf } from './unionpay-zm.js';
import { ZipWriter } from './zip.js';

/** The merchant id a format uses when the channel's config names none (invented, of each format's shape). */
export const DEFAULT_BILL_ACCOUNTS: Readonly<Record<BillFormat, string>> = {
  'wechat-trade': '1900012345',
  'alipay-trade': '20881234567890120156',
  'unionpay-zm': '898310012345678',
};

/** Bills are published the next morning; this time (local) is the export time and the zip's timestamps. */
const EXPORT_TIME = '09:00:00';

export const SEED_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const DEFAULT_BILL_SEED = '0';

export interface WriteBillsOptions {
  readonly config: SimConfig;
  /** The business date, YYYY-MM-DD, in the simulator's time zone. */
  readonly date: string;
  readonly outDir: string;
  /** Channel ids; default: every channel with a bill format. */
  readonly channels?: readonly string[];
  /** Overrides the channels' configured format. */
  readonly format?: BillFormat;
  readonly inject?: InjectSpec;
  /** Chooses the injected trouble; default: the config's seed, else "0". */
  readonly seed?: string;
  /** Makes the file's own totals disagree with its rows (WeChat summary, Alipay footer). */
  readonly breakTotals?: boolean;
  /** A lower row limit than BILL_LIMITS.rowsPerFileMax (never a higher one). */
  readonly rowsPerFileMax?: number;
}

export interface WrittenFile {
  readonly path: string;
  readonly name: string;
  /** Transaction rows (lines) in the file; for the Alipay zip, in its 业务明细 entry. */
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ChannelBills {
  readonly channelId: string;
  readonly format: BillFormat;
  readonly account: string;
  readonly businessDate: string;
  readonly files: readonly WrittenFile[];
  readonly manifestPath: string;
  readonly payments: number;
  readonly refunds: number;
  readonly voids: number;
  /** Rows of the record in another currency than the bill's (CNY), not listed. */
  readonly leftOutOtherCurrency: number;
  readonly troubles: readonly TroubleRecord[];
  readonly skipped: readonly { readonly kind: string; readonly reason: string }[];
  readonly shortfalls: readonly { readonly kind: string; readonly requested: number; readonly applied: number }[];
  /** What the file's own totals say (as the file shows them). */
  readonly totals: Readonly<Record<string, string | number>>;
  readonly totalsBroken: string | null;
}

interface Session {
  add(row: BillRow): void;
  finish(breakTotals: boolean): { files: { path: string; name: string }[]; totals: Record<string, string | number>; totalsBroken: string | null };
  abort(): void;
}

export function accountFor(channel: SimChannel, format: BillFormat): string {
  const account = channel.billAccount ?? DEFAULT_BILL_ACCOUNTS[format];
  if (format === 'unionpay-zm' && account.length > 15) {
    throw new BillError('bill_account_invalid', `Channel ${channel.id}: UnionPay's 商户代码 is at most 15 characters; ${account} has ${account.length}.`);
  }
  return account;
}

/** The bill files a channel publishes for a day (names only), for servers and fetch templates. */
export function billFileNames(format: BillFormat, account: string, date: string): string[] {
  switch (format) {
    case 'wechat-trade':
      return [wechatFileName(account, date)];
    case 'alipay-trade':
      return [alipayZipName(account, date)];
    case 'unionpay-zm':
      return [zmFileName(account, date)];
  }
}

export function wechatFileName(mchId: string, date: string): string {
  return `${mchId}_tradebill_ALL_${compactDate(date)}.csv`;
}

export function manifestFileName(date: string): string {
  return `manifest_${compactDate(date)}.json`;
}

function openSession(format: BillFormat, dir: string, account: string, date: string, clock: LocalClock): Session {
  const exportedAt = `${nextDate(date)} ${EXPORT_TIME}`;
  switch (format) {
    case 'wechat-trade': {
      const name = wechatFileName(account, date);
      const file = new FileOut(join(dir, name));
      const writer = new WechatTradeBillWriter(new TextOut(file, utf8));
      return {
        add: (row) => writer.add(wechatRowOf(row, account, clock)),
        finish: (breakTotals) => {
          const t = writer.finish({ breakTotals });
          file.commit();
          return {
            files: [{ path: file.path, name }],
            totals: {
              rows: t.rows,
              settlement_total_minor: t.settlementTotalMinor.toString(),
              refund_minor: t.refundMinor.toString(),
              recharge_refund_minor: t.rechargeRefundMinor.toString(),
              fee_milli_minor: t.feeMilliMinor.toString(),
              total_minor: t.totalMinor.toString(),
              request_refund_minor: t.requestRefundMinor.toString(),
            },
            totalsBroken: breakTotals ? '应结订单总金额 is one fen more than the sum of the rows' : null,
          };
        },
        abort: () => file.abort(),
      };
    }
    case 'alipay-trade': {
      const name = alipayZipName(account, date);
      const entries = alipayEntryNames(account, date);
      const file = new FileOut(join(dir, name));
      const [y = 0, mo = 1, d = 1] = nextDate(date).split('-').map(Number);
      const [h = 0, mi = 0, s = 0] = EXPORT_TIME.split(':').map(Number);
      const zip = new ZipWriter(file, { year: y, month: mo, day: d, hour: h, minute: mi, second: s });
      const detail = zip.entry(gbk(entries.detail));
      const text = new TextOut(detail, gbk);
      const writer = new AlipayTradeBillWriter(text, { account, date, nextDate: nextDate(date), exportedAt });
      return {
        add: (row) => writer.add(alipayRowOf(row, clock)),
        finish: (breakTotals) => {
          const t = writer.finish({ breakTotals });
          detail.end();
          const summary = zip.entry(gbk(entries.summary));
          summary.write(gbk(writer.summaryText()));
          summary.end();
          zip.finish();
          file.commit();
          return {
            files: [{ path: file.path, name }],
            totals: {
              trades: t.trades,
              trade_received_minor: t.tradeReceivedMinor.toString(),
              refunds: t.refunds,
              refund_received_minor: t.refundReceivedMinor.toString(),
            },
            totalsBroken: breakTotals ? '#交易合计 商家实收 is one fen more than the sum of the trade rows' : null,
          };
        },
        abort: () => file.abort(),
      };
    }
    case 'unionpay-zm': {
      const name = zmFileName(account, date);
      const file = new FileOut(join(dir, name));
      let lines = 0;
      return {
        add: (row) => {
          file.write(zmLine(zmRecordOf(row, account, clock)));
          lines++;
        },
        finish: () => {
          file.commit();
          return { files: [{ path: file.path, name }], totals: { lines }, totalsBroken: null };
        },
        abort: () => file.abort(),
      };
    }
  }
}

function selectChannels(config: SimConfig, options: WriteBillsOptions): { channel: SimChannel; format: BillFormat }[] {
  if (options.format !== undefined && !(BILL_FORMATS as readonly string[]).includes(options.format)) {
    throw new BillError('bill_format_unknown', `Bill format ${JSON.stringify(options.format)} is not one of ${BILL_FORMATS.join(', ')}.`);
  }
  if (options.channels === undefined) {
    return config.channels.flatMap((channel) => {
      const format = options.format ?? channel.billFormat;
      return format === null || channel.billFormat === null ? [] : [{ channel, format }];
    });
  }
  return options.channels.map((id) => {
    const channel = config.channels.find((c) => c.id === id);
    if (!channel) throw new BillError('channel_unknown', `The simulator has no channel ${JSON.stringify(id)}; it has ${config.channels.map((c) => c.id).join(', ')}.`);
    const format = options.format ?? channel.billFormat;
    if (format === null) throw new BillError('bill_format_missing', `Channel ${id} publishes no bill (its bill_format is none).`);
    return { channel, format };
  });
}

/** Writes every selected channel's bill for the day and its manifest; returns what was written. */
export function writeBills(store: SimStore, options: WriteBillsOptions): ChannelBills[] {
  const { config, date } = options;
  if (!isIsoDate(date)) throw new BillError('date_invalid', `${JSON.stringify(date)} is not a YYYY-MM-DD date.`);
  const seed = options.seed ?? config.seed ?? DEFAULT_BILL_SEED;
  if (!SEED_PATTERN.test(seed)) throw new BillError('seed_invalid', `Seed ${JSON.stringify(seed)} is not 1–64 of [A-Za-z0-9._-].`);
  const selected = selectChannels(config, options);
  const clock = new LocalClock(config.timeZone);
  return selected.map(({ channel, format }) => writeChannelBill(store, { ...options, seed }, channel, format, clock));
}

function writeChannelBill(store: SimStore, options: WriteBillsOptions & { seed: string }, channel: SimChannel, format: BillFormat, clock: LocalClock): ChannelBills {
  const { date } = options;
  const account = accountFor(channel, format);
  const dir = join(options.outDir, channel.id);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new BillError('out_dir_unwritable', `Cannot create ${dir}: ${(e as Error).message}.`);
  }
  let leftOutOtherCurrency = 0;
  const rowsOf = (day: string, count: boolean) =>
    function* (): Generator<BillRow> {
      for (const t of store.billTransactions(channel.id, day)) {
        const row = billRowOf(t, format);
        if (row === null) continue;
        if (row.currency !== BILL_CURRENCY) {
          if (count) leftOutOtherCurrency++;
          continue;
        }
        yield row;
      }
    };
  const ctx: TroubleContext = {
    seed: options.seed,
    channelId: channel.id,
    format,
    feeRate: channel.feeRate,
    product: channel.products[0] ?? null,
    date,
    nextDate: nextDate(date),
    previousDate: previousDate(date),
    dayStartMs: clock.startOfDayMs(date),
    nextDayStartMs: clock.startOfDayMs(nextDate(date)),
  };
  const inject = options.inject ?? {};
  const plan = hasTrouble(inject)
    ? planTroubles(inject, ctx, rowsOf(date, false), rowsOf(ctx.previousDate, false))
    : { picked: new Map(), injected: [], skipped: [], shortfalls: [] };

  const records: TroubleRecord[] = [];
  const counts = { payment: 0, refund: 0, void: 0 };
  const rowsMax = Math.min(options.rowsPerFileMax ?? BILL_LIMITS.rowsPerFileMax, BILL_LIMITS.rowsPerFileMax);
  const session = openSession(format, dir, account, date, clock);
  let finished: ReturnType<Session['finish']>;
  try {
    for (const row of applyTroubles(rowsOf(date, true)(), plan, ctx, records)) {
      counts[row.kind]++;
      if (counts.payment + counts.refund + counts.void > rowsMax) {
        throw new BillError('bill_rows_limit', `Channel ${channel.id} has more than ${rowsMax} rows on ${date}.`);
      }
      session.add(row);
    }
    finished = session.finish(options.breakTotals === true);
  } catch (e) {
    session.abort();
    throw e;
  }
  const skipped: { kind: string; reason: string }[] = [...plan.skipped];
  if (options.breakTotals && finished.totalsBroken === null) skipped.push({ kind: 'break_totals', reason: `${format} carries no totals of its own.` });
  const rows = counts.payment + counts.refund + counts.void;
  const files = finished.files.map((f) => ({ ...f, rows, ...fileDigest(f.path) }));
  const result: ChannelBills = {
    channelId: channel.id,
    format,
    account,
    businessDate: date,
    files,
    manifestPath: join(dir, manifestFileName(date)),
    payments: counts.payment,
    refunds: counts.refund,
    voids: counts.void,
    leftOutOtherCurrency,
    troubles: records,
    skipped,
    shortfalls: plan.shortfalls,
    totals: finished.totals,
    totalsBroken: finished.totalsBroken,
  };
  writeManifest(result, options);
  return result;
}

function writeManifest(r: ChannelBills, options: WriteBillsOptions & { seed: string }): void {
  const inject: Record<string, number> = {};
  for (const k of TROUBLE_KINDS) if ((options.inject?.[k] ?? 0) > 0) inject[k] = options.inject?.[k] ?? 0;
  const manifest = {
    channel: r.channelId,
    format: r.format,
    account: r.account,
    business_date: r.businessDate,
    time_zone: options.config.timeZone,
    currency: BILL_CURRENCY,
    seed: options.seed,
    inject,
    break_totals: options.breakTotals === true,
    files: r.files.map((f) => ({ name: f.name, rows: f.rows, bytes: f.bytes, sha256: f.sha256 })),
    rows: { payments: r.payments, refunds: r.refunds, voids: r.voids },
    left_out_other_currency: r.leftOutOtherCurrency,
    totals: r.totals,
    totals_broken: r.totalsBroken,
    troubles: r.troubles,
    skipped: r.skipped,
    shortfalls: r.shortfalls,
  };
  const part = `${r.manifestPath}.part`;
  writeFileSync(part, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(part, r.manifestPath);
}
