// Which of our own Node flags the agents we start (local mode) get. Only those that decide how
// code is loaded (a loader such as tsx, conditions, source maps): without them the agent would not
// run the same program. V8 tuning is not passed on: a gateway run with `--lite-mode` to hold many
// idle attachments in little memory would otherwise make every agent — the CPU-bound side, which
// moves the terminal's output — run interpreted (measured: 65% of the throughput instead of 90%+).

/** Flags that take a value, as `--flag value` or `--flag=value`. */
const WITH_VALUE = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C']);
const WITHOUT_VALUE = new Set(['--enable-source-maps', '--no-warnings']);

export function codeLoadingFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=', 1)[0]!;
    const takesNext = WITH_VALUE.has(arg) && i + 1 < execArgv.length;
    if (WITH_VALUE.has(name) || WITHOUT_VALUE.has(arg)) kept.push(...(takesNext ? [arg, execArgv[i + 1]!] : [arg]));
    if (takesNext) i++;
  }
  return kept;
}
