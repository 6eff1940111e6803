// Small statistics for benchmark figures: percentiles by nearest rank, mean and spread.

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Summary {
  readonly mean: number;
  /** Half the range (max − min) / 2: with 3 runs a standard deviation says little more. */
  readonly spread: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

export function summarize(values: readonly number[]): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { mean, spread: (max - min) / 2, min, max, runs: values };
}

/**
 * The median of the ratios a[i] / b[i] of runs made in the same round: on a VM whose speed drifts
 * between phases, a target and its reference measured seconds apart share the phase, so their
 * ratio is steadier than the ratio of the two means (which a slow phase in one round can swing).
 */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  const ratios = a.slice(0, b.length).map((value, i) => value / b[i]!).sort((x, y) => x - y);
  if (ratios.length === 0) return Number.NaN;
  const middle = Math.floor(ratios.length / 2);
  return ratios.length % 2 === 1 ? ratios[middle]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
}

/**
 * The gateway benchmark's form of a summary: only mean, spread and runs, in that order, because
 * its results JSON has always had exactly these keys (the agent benchmark's also has min and max).
 */
export type Spread = Pick<Summary, 'mean' | 'spread' | 'runs'>;

export function spread(values: readonly number[]): Spread {
  const { mean, spread: half, runs } = summarize(values);
  return { mean, spread: half, runs };
}

export interface Latency {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function latency(samplesMs: readonly number[]): Latency {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}
