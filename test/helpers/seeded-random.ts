// A small seeded generator (mulberry32) for the fuzz tests: the same seed gives the same inputs,
// so a failure is replayed with FUZZ_SEED=<seed>. Each fuzz test prints the seed it used.
import { randomInt } from 'node:crypto';

export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The seed to use: FUZZ_SEED when given (a replay), else a fresh one. */
  static fromEnvironment(name: string): SeededRandom {
    const given = process.env.FUZZ_SEED;
    const seed = given !== undefined && /^\d+$/.test(given) ? Number(given) : randomInt(2 ** 31);
    console.log(`${name}: seed ${seed} (replay with FUZZ_SEED=${seed})`);
    return new SeededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, below). */
  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A copy of `input` with a few random changes: bits flipped, bytes set, cut, grown, spliced. */
  mutate(input: Buffer): Buffer {
    let out = Buffer.from(input);
    for (let round = 1 + this.int(3); round > 0; round--) {
      const at = out.length === 0 ? 0 : this.int(out.length);
      switch (this.int(6)) {
        case 0:
          if (out.length > 0) out[at] = out[at]! ^ (1 << this.int(8));
          break;
        case 1:
          if (out.length > 0) out[at] = this.pick([0x00, 0x7f, 0x80, 0xff, this.int(256)]);
          break;
        case 2:
          out = out.subarray(0, at);
          break;
        case 3:
          out = Buffer.concat([out, this.bytes(1 + this.int(16))]);
          break;
        case 4:
          out = Buffer.concat([out.subarray(0, at), this.bytes(this.int(8)), out.subarray(at)]);
          break;
        default:
          out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + this.int(4)))]);
      }
    }
    return out;
  }
}
