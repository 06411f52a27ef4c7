// A WeChat Pay trade bill (ALL layout) of any size, in its real format, for tests that need a big file.

import { WechatTradeBillWriter, wechatRowOf } from '../../src/online/channel-sim/bills/wechat.js';
import { FileOut, TextOut } from '../../src/online/channel-sim/bills/sinks.js';
import { LocalClock, utf8 } from '../../src/online/channel-sim/bills/text.js';

/**
 * A WeChat ALL bill for date D of `rows` payments `pay_<i>` (and a refund `re_<i>` of the row before every
 * 50th), amounts 100 + i fen, written by the channel simulator's own writer.
 */
export function writeWechatBill(path: string, D: string, rows: number): void {
  const clock = new LocalClock('Asia/Shanghai');
  const day = clock.startOfDayMs(D);
  const file = new FileOut(path);
  const writer = new WechatTradeBillWriter(new TextOut(file, utf8));
  for (let i = 0; i < rows; i++) {
    const refund = i % 50 === 49;
    const atMs = day + i * 10_000;
    writer.add(
      wechatRowOf(
        {
          kind: refund ? 'refund' : 'payment',
          txnNo: i,
          channelTxnId: `42000010${String(i).padStart(20, '0')}`,
          merchantOrderNo: `pay_${i}`,
          merchantRefundNo: refund ? `re_${i}` : null,
          originalChannelTxnId: refund ? `42000010${String(i - 1).padStart(20, '0')}` : null,
          originalTxnNo: refund ? i - 1 : null,
          originalAtMs: refund ? atMs - 10_000 : null,
          atMs,
          completedAtMs: atMs + 2000,
          amountMinor: BigInt(100 + i),
          feeMinor: BigInt(Math.floor((100 + i) * 0.006)),
          feeRate: '0.006',
          currency: 'CNY',
          product: 'wallet',
          payerId: `o${i}`,
          description: 'test order',
          status: 'succeeded',
        },
        '1900012345',
        clock,
      ),
    );
  }
  writer.finish();
  file.commit();
}
