// The metrics text Prometheus scrapes: the exact format (a scraper rejects a malformed page whole),
// values read at scrape time, and counters that only go up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../core/src/metrics/registry.js';
import { registerProcessMetrics } from '../../core/src/metrics/process-metrics.js';

test('counters and derived metrics render in the text format, in registration order', () => {
  const registry = new MetricsRegistry();
  const logins = registry.counter('app_logins_total', 'Login attempts by result', ['result']);
  const created = registry.counter('app_created_total', 'Things created');
  let live = 3;
  registry.derived('app_live', 'Live things', 'gauge', () => live);
  registry.derived('app_bytes_total', 'Bytes by direction', 'counter', () => [
    { labels: { direction: 'up' }, value: 10 },
    { labels: { direction: 'down' }, value: 2 ** 40 },
  ]);

  assert.equal(
    registry.render(),
    [
      '# HELP app_logins_total Login attempts by result',
      '# TYPE app_logins_total counter',
      '# HELP app_created_total Things created',
      '# TYPE app_created_total counter',
      'app_created_total 0',
      '# HELP app_live Live things',
      '# TYPE app_live gauge',
      'app_live 3',
      '# HELP app_bytes_total Bytes by direction',
      '# TYPE app_bytes_total counter',
      'app_bytes_total{direction="up"} 10',
      'app_bytes_total{direction="down"} 1099511627776',
      '',
    ].join('\n'),
  );

  logins.inc({ result: 'success' });
  logins.inc({ result: 'success' }, 2);
  logins.inc({ result: 'invalid_credentials' });
  created.inc(5);
  live = 0;
  const text = registry.render();
  assert.match(text, /^app_logins_total\{result="success"\} 3$/m);
  assert.match(text, /^app_logins_total\{result="invalid_credentials"\} 1$/m);
  assert.match(text, /^app_created_total 5$/m);
  assert.match(text, /^app_live 0$/m, 'derived values are read at every scrape');
});

test('label values and help are escaped; bad names and downward counts are refused', () => {
  const registry = new MetricsRegistry();
  const errors = registry.counter('app_errors_total', 'Errors\nby "reason" \\ kind', ['reason']);
  errors.inc({ reason: 'a "quoted"\\path\nnext' });
  assert.match(registry.render(), /^# HELP app_errors_total Errors\\nby "reason" \\\\ kind$/m);
  assert.match(registry.render(), /^app_errors_total\{reason="a \\"quoted\\"\\\\path\\nnext"\} 1$/m);

  assert.throws(() => errors.inc({ reason: 'x' }, -1), RangeError);
  assert.throws(() => errors.inc(), /label "reason" is missing/);
  assert.throws(() => registry.counter('app-bad-name', 'x'), /bad metric name/);
  assert.throws(() => registry.counter('app_ok', 'x', ['bad-label']), /bad label name/);
  assert.throws(() => registry.counter('app_errors_total', 'again'), /registered twice/);
});

test('process metrics: the figures dashboards expect, with plausible values', () => {
  const registry = new MetricsRegistry();
  registerProcessMetrics(registry);
  const text = registry.render();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('process_resident_memory_bytes') > 10 * 2 ** 20);
  assert.ok(value('nodejs_heap_size_used_bytes') > 0);
  assert.ok(value('nodejs_heap_size_total_bytes') >= value('nodejs_heap_size_used_bytes'));
  assert.ok(value('process_open_fds') >= 3);
  assert.ok(value('process_cpu_user_seconds_total') > 0);
  assert.ok(Math.abs(value('process_start_time_seconds') - Date.now() / 1000) < 3600);
  const utilization = value('nodejs_eventloop_utilization');
  assert.ok(utilization >= 0 && utilization <= 1);
});
