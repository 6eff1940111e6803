// Command-line options the benchmarks share.

/** An integer option within [min, max], or a TypeError that names the option. */
export function intOption(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
  return n;
}
