// Prometheus /metrics: request counts and latencies by route and outcome, group-commit batch sizes,
// orders by state. Plain text exposition format, no dependency.

const BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

interface Series {
  count: number;
  sumMs: number;
  buckets: number[];
}

export class Metrics {
  private readonly requests = new Map<string, Series>();
  /** Merchant notification attempts by outcome (succeeded, retry_scheduled, failed, interrupted). */
  private readonly notifications = new Map<string, number>();

  countNotification(outcome: string): void {
    this.notifications.set(outcome, (this.notifications.get(outcome) ?? 0) + 1);
  }

  observe(route: string, method: string, status: number, elapsedMs: number): void {
    const key = `route="${route}",method="${method}",outcome="${status < 400 ? 'ok' : status < 500 ? 'refused' : 'error'}",status="${status}"`;
    let s = this.requests.get(key);
    if (!s) this.requests.set(key, (s = { count: 0, sumMs: 0, buckets: BUCKETS_MS.map(() => 0) }));
    s.count += 1;
    s.sumMs += elapsedMs;
    BUCKETS_MS.forEach((b, i) => {
      if (elapsedMs <= b) s.buckets[i] = (s.buckets[i] ?? 0) + 1;
    });
  }

  render(ordersByState: Record<string, number>, store: object): string {
    const lines: string[] = [
      '# HELP settle_http_requests_total HTTP requests by route and outcome.',
      '# TYPE settle_http_requests_total counter',
    ];
    for (const [labels, s] of this.requests) lines.push(`settle_http_requests_total{${labels}} ${s.count}`);
    lines.push('# HELP settle_http_request_duration_ms Request latency in milliseconds.', '# TYPE settle_http_request_duration_ms histogram');
    for (const [labels, s] of this.requests) {
      BUCKETS_MS.forEach((b, i) => lines.push(`settle_http_request_duration_ms_bucket{${labels},le="${b}"} ${s.buckets[i] ?? 0}`));
      lines.push(`settle_http_request_duration_ms_bucket{${labels},le="+Inf"} ${s.count}`);
      lines.push(`settle_http_request_duration_ms_sum{${labels}} ${s.sumMs.toFixed(3)}`, `settle_http_request_duration_ms_count{${labels}} ${s.count}`);
    }
    lines.push('# HELP settle_payments Payments by state.', '# TYPE settle_payments gauge');
    for (const [state, n] of Object.entries(ordersByState)) lines.push(`settle_payments{state="${state}"} ${n}`);
    lines.push('# HELP settle_notifications_total Merchant notification attempts by outcome.', '# TYPE settle_notifications_total counter');
    for (const [outcome, n] of this.notifications) lines.push(`settle_notifications_total{outcome="${outcome}"} ${n}`);
    const gc = (store as { groupCommitStats?: { batches: number; units: number; batchSizeMax: number } }).groupCommitStats;
    if (gc) {
      lines.push(
        '# HELP settle_commit_batches_total Group-commit transactions.',
        '# TYPE settle_commit_batches_total counter',
        `settle_commit_batches_total ${gc.batches}`,
        '# HELP settle_commit_units_total Units of work committed.',
        '# TYPE settle_commit_units_total counter',
        `settle_commit_units_total ${gc.units}`,
        '# HELP settle_commit_batch_size_max Largest batch so far.',
        '# TYPE settle_commit_batch_size_max gauge',
        `settle_commit_batch_size_max ${gc.batchSizeMax}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}
