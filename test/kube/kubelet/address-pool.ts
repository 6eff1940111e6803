// Pod addresses on the loopback network. Linux routes all of 127.0.0.0/8 to lo, so each pod's
// programs bind their own address without any configuration, and every pod can use the same
// port. Kubelets on one machine (several test files, several clusters) must not hand out the same
// address: each claims a block 127.0.N.0/24 of its own with a file in a machine-wide folder, the
// way a node gets its own pod CIDR. A claim whose kubelet state folder is gone is stale and is
// taken over. Light mode runs no process, binds nothing, and takes 127.1.0.0/16 unclaimed.
import { existsSync, openSync, closeSync, readFileSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLAIMS = join(tmpdir(), 'cloudterm-rig-address-blocks');

export class AddressPool {
  private readonly used = new Set<string>();
  private next = 0;

  private constructor(
    /** The addresses, in order of use. */
    private readonly at: (index: number) => string,
    private readonly size: number,
    /** 127.0.N.0/24 for a kubelet that runs processes. */
    readonly block: string,
  ) {}

  /** The pool of the kubelet whose state folder is `stateDir` (the same block after a restart). */
  static forNode(stateDir: string, light: boolean): AddressPool {
    if (light) return new AddressPool((index) => `127.1.${Math.floor(index / 254)}.${1 + (index % 254)}`, 256 * 254, '127.1.0.0/16');
    const third = claimBlock(stateDir);
    return new AddressPool((index) => `127.0.${third}.${1 + index}`, 254, `127.0.${third}.0/24`);
  }

  /** Marks an address as taken (an adopted pod's). */
  claim(address: string): void {
    this.used.add(address);
  }

  allocate(): string {
    for (let tried = 0; tried < this.size; tried += 1) {
      const address = this.at(this.next);
      this.next = (this.next + 1) % this.size;
      if (!this.used.has(address)) {
        this.used.add(address);
        return address;
      }
    }
    throw new Error(`all ${this.size} addresses of ${this.block} are in use`);
  }

  release(address: string): void {
    this.used.delete(address);
  }
}

function claimBlock(stateDir: string): number {
  mkdirSync(CLAIMS, { recursive: true, mode: 0o755 });
  const owner = (block: number) => {
    try {
      return readFileSync(join(CLAIMS, String(block)), 'utf8');
    } catch {
      return undefined;
    }
  };
  for (let block = 1; block <= 254; block += 1) if (owner(block) === stateDir) return block;
  for (let block = 1; block <= 254; block += 1) {
    const path = join(CLAIMS, String(block));
    const holder = owner(block);
    if (holder !== undefined && existsSync(holder)) continue;
    if (holder !== undefined) unlinkSync(path);
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, stateDir);
      closeSync(fd);
      return block;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another kubelet won it: next
    }
  }
  throw new Error(`all 254 pod address blocks 127.0.N.0/24 are claimed (${CLAIMS})`);
}
