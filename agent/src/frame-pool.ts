// Reusable buffers for output frames. At full speed the agent sends thousands of frames a second;
// allocating each would leave tens of MiB of garbage between collections (V8 collects external
// memory late). A frame goes back to the pool when every socket it was sent to has handed it to
// the kernel — not before, since ws writes the Buffer itself, without a copy.

export class FramePool {
  private readonly free: ArrayBuffer[] = [];

  /**
   * @param frameBytes size of every pooled buffer; larger frames are allocated and not pooled
   * @param maxFree buffers kept for reuse; more are left to the garbage collector
   */
  constructor(
    readonly frameBytes: number,
    private readonly maxFree: number,
  ) {}

  /** A buffer of `length` bytes, with its release function to call once per `users`. */
  take(length: number, users: number): { frame: Buffer; release: () => void } {
    if (length > this.frameBytes) return { frame: Buffer.allocUnsafe(length), release: () => {} };
    const memory = this.free.pop() ?? new ArrayBuffer(this.frameBytes);
    let left = users;
    return {
      frame: Buffer.from(memory, 0, length),
      release: () => {
        left -= 1;
        if (left === 0 && this.free.length < this.maxFree) this.free.push(memory);
      },
    };
  }
}
