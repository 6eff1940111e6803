// Pod addresses on the loopback network: 127.0.1.1, 127.0.1.2, … 127.0.1.254, 127.0.2.1, …
// Linux routes all of 127.0.0.0/8 to lo, so each pod's programs bind their own address without
// any configuration, and every pod can use the same port.
const SIZE = 254 * 254;

function toAddress(index: number): string {
  const third = 1 + Math.floor(index / 254);
  const fourth = 1 + (index % 254);
  return `127.0.${third}.${fourth}`;
}

export class AddressPool {
  private readonly used = new Set<string>();
  private next = 0;

  /** Marks an address as taken (an adopted pod's). */
  claim(address: string): void {
    this.used.add(address);
  }

  allocate(): string {
    for (let tried = 0; tried < SIZE; tried += 1) {
      const address = toAddress(this.next);
      this.next = (this.next + 1) % SIZE;
      if (!this.used.has(address)) {
        this.used.add(address);
        return address;
      }
    }
    throw new Error(`all ${SIZE} pod addresses are in use`);
  }

  release(address: string): void {
    this.used.delete(address);
  }
}
