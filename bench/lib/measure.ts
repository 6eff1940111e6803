// The measurements, the same for every target: output throughput of a 200 MB pipeline, echo
// latency of single keystrokes, and settling (waiting until the terminal is quiet).
import { performance } from 'node:perf_hooks';
import { sleep } from './processes.js';
import { withTimeout, type Chunk, type Keyboard, type Terminal } from './terminal.js';

export const PIPELINE = "head -c 200000000 /dev/zero | tr '\\0' a";
export const PIPELINE_BYTES = 200_000_000;

const A_BYTES = Buffer.alloc(1 << 20, 0x61);
const A_TEXT = 'a'.repeat(1 << 20);

/** True when the chunk is nothing but 'a' (one memcmp per chunk, no allocation). */
function onlyA(chunk: Chunk): boolean {
  for (let at = 0; at < chunk.length; at += A_TEXT.length) {
    const end = Math.min(chunk.length, at + A_TEXT.length);
    if (typeof chunk === 'string') {
      if (!A_TEXT.startsWith(at === 0 && end === chunk.length ? chunk : chunk.slice(at, end))) return false;
    } else if (A_BYTES.compare(chunk, at, end, 0, end - at) !== 0) return false;
  }
  return true;
}

/** Waits until no output arrived for `quietMs` (bounded by `timeoutMs`). */
export async function settle<C extends Chunk>(terminal: Keyboard<C>, quietMs = 150, timeoutMs = 5_000): Promise<void> {
  let last = performance.now();
  terminal.sink = () => {
    last = performance.now();
  };
  const deadline = performance.now() + timeoutMs;
  while (performance.now() - last < quietMs) {
    if (performance.now() > deadline) throw new Error(`terminal still printing after ${timeoutMs} ms`);
    await sleep(Math.max(10, quietMs - (performance.now() - last)));
  }
}

export interface ThroughputRun {
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** From the line sent to the first byte of output: the shell forking the pipeline. */
  readonly firstByteMs: number;
  readonly chunks: number;
}

/**
 * Turns echo and the prompt off, then types the pipeline and times until exactly 200 MB of 'a'
 * arrived. Nothing is produced before the line is typed, so the client reads from the first byte.
 */
export async function throughput(terminal: Terminal, timeoutMs = 180_000): Promise<ThroughputRun> {
  await settle(terminal);
  terminal.type("stty -echo; PS1=''\n");
  await settle(terminal);
  let received = 0;
  let chunks = 0;
  let firstAt = 0;
  let doneAt = 0;
  const done = new Promise<void>((resolve, reject) => {
    terminal.sink = (chunk) => {
      if (chunks === 0) firstAt = performance.now();
      chunks += 1;
      received += chunk.length;
      if (!onlyA(chunk)) {
        reject(new Error(`unexpected output after ${received} bytes: ${JSON.stringify(chunk.slice(0, 80).toString())}`));
      } else if (received === PIPELINE_BYTES) {
        doneAt = performance.now();
        resolve();
      } else if (received > PIPELINE_BYTES) {
        reject(new Error(`received ${received} bytes, more than the ${PIPELINE_BYTES} expected`));
      }
    };
  });
  const start = performance.now();
  terminal.type(`${PIPELINE}\n`);
  await withTimeout(done, timeoutMs, `200 MB of output (got ${received} bytes)`);
  terminal.sink = () => {};
  const seconds = (doneAt - start) / 1000;
  return { seconds, mbPerSecond: PIPELINE_BYTES / 1e6 / seconds, firstByteMs: firstAt - start, chunks };
}

/**
 * How long the terminal must be silent before a measurement starts (settle's defaults when
 * left out). The gateway benchmark asks for 200 ms within 10 s, the agent benchmark keeps
 * 150 ms within 5 s: each suite's published figures were taken with its own setting.
 */
export interface Quiet {
  readonly quietMs?: number;
  readonly timeoutMs?: number;
}

/**
 * Single-keystroke echo: types 'x' and times until the echoed 'x' arrives (the PTY's line
 * discipline echoes it, the shell waiting at its prompt), then erases it with DEL so the line
 * never fills. Only the 'x' round trips are timed; samples run back to back.
 */
export async function echoLatency<C extends Chunk>(terminal: Keyboard<C>, samples: number, warmup: number, quiet: Quiet = {}): Promise<number[]> {
  await settle(terminal, quiet.quietMs, quiet.timeoutMs);
  let pending = '';
  let want = '';
  let arrivedAt = 0;
  let wake: (() => void) | null = null;
  terminal.sink = (chunk: Chunk) => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    if (wake && pending.includes(want)) {
      arrivedAt = performance.now();
      pending = '';
      const resume = wake;
      wake = null;
      resume();
    }
  };
  const roundTrip = async (keys: string, echo: string): Promise<number> => {
    want = echo;
    const arrived = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const sentAt = performance.now();
    terminal.type(keys);
    await withTimeout(arrived, 5_000, `echo of ${JSON.stringify(keys)}`);
    return arrivedAt - sentAt;
  };
  const out: number[] = [];
  for (let i = 0; i < warmup + samples; i++) {
    const ms = await roundTrip('x', 'x');
    if (i >= warmup) out.push(ms);
    await roundTrip('\x7f', '\b \b');
  }
  terminal.sink = () => {};
  return out;
}
