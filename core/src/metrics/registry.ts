// Prometheus text exposition (format 0.0.4): the small part of it CloudTerm needs. Counters and
// gauges, with or without labels, either counted as things happen or read from their owner at
// scrape time (so hot paths do no metrics work at all). Written here rather than taken from
// prom-client: that library and what it loads (the OpenTelemetry API, a t-digest, an event-loop
// histogram) cost every gateway and every agent pod memory for features we do not use.

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

/** One line of a family: its labels (name → value; none for an unlabelled metric) and its value. */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  samples(): readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A counter updated as things happen, optionally split by the values of some labels. */
export class Counter<L extends string = never> {
  /** Values by label set, keyed by the rendered label set (`{a="x",b="y"}`, or '' unlabelled). */
  private readonly values = new Map<string, { labels: Record<L, string>; value: number }>();

  constructor(private readonly labelNames: readonly L[]) {}

  /** `inc()`, `inc(5)`, `inc({ reason: 'x' })`, `inc({ reason: 'x' }, 5)`. */
  inc(labelsOrBy?: Record<L, string> | number, by = 1): void {
    const labels = (typeof labelsOrBy === 'object' ? labelsOrBy : {}) as Record<L, string>;
    const amount = typeof labelsOrBy === 'number' ? labelsOrBy : by;
    if (!(amount >= 0)) throw new RangeError(`a counter only goes up (got ${amount})`);
    for (const name of this.labelNames) {
      if (typeof labels[name] !== 'string') throw new TypeError(`label "${name}" is missing`);
    }
    const key = renderLabels(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += amount;
    else this.values.set(key, { labels: { ...labels }, value: amount });
  }

  /** @internal */
  samples(): Sample[] {
    if (this.values.size === 0 && this.labelNames.length === 0) return [{ value: 0 }];
    return [...this.values.values()].map(({ labels, value }) => ({ labels, value }));
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  /** A counter the owner increments. */
  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    for (const label of labelNames) if (!LABEL_NAME.test(label)) throw new TypeError(`bad label name "${label}"`);
    const counter = new Counter<L>(labelNames);
    this.add({ name, help, type: 'counter', samples: () => counter.samples() });
    return counter;
  }

  /** A metric whose value(s) are read from their owner at scrape time. */
  derived(name: string, help: string, type: MetricType, read: () => number | readonly Sample[]): void {
    this.add({
      name,
      help,
      type,
      samples: () => {
        const value = read();
        return typeof value === 'number' ? [{ value }] : value;
      },
    });
  }

  /** The exposition text, families in the order they were registered. */
  render(): string {
    let text = '';
    for (const family of this.families.values()) {
      text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
      for (const sample of family.samples()) {
        text += `${family.name}${renderLabels(sample.labels ?? {})} ${renderValue(sample.value)}\n`;
      }
    }
    return text;
  }

  private add(family: Family): void {
    if (!METRIC_NAME.test(family.name)) throw new TypeError(`bad metric name "${family.name}"`);
    if (this.families.has(family.name)) throw new Error(`metric "${family.name}" is registered twice`);
    this.families.set(family.name, family);
  }
}

function renderLabels(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  return `{${names.map((name) => `${name}="${escapeLabelValue(labels[name]!)}"`).join(',')}}`;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
