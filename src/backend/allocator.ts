// A first-fit free-list allocator over a WebAssembly.Memory, owned by the host. Blocks are 16-byte
// aligned (v128 loads are fastest aligned); freed neighbours coalesce; memory grows on demand.

const ALIGN = 16;
const PAGE = 65536;

export class LinearAllocator {
  private top: number;
  private readonly free: Array<[number, number]> = []; // [start, size], sorted by start
  private readonly sizes = new Map<number, number>();
  private used = 0;

  constructor(private readonly memory: WebAssembly.Memory, heapBase: number) {
    this.top = Math.ceil(heapBase / ALIGN) * ALIGN;
  }

  /** Bytes handed out and not yet freed. */
  get allocated(): number { return this.used; }
  /** The most ever allocated at once (bytes) since creation or the last resetPeak(). */
  get peak(): number { return this.high; }
  resetPeak(): void { this.high = this.used; }
  private high = 0;

  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const [start, len] = this.free[i];
      if (len >= size) {
        if (len === size) this.free.splice(i, 1);
        else this.free[i] = [start + size, len - size];
        this.sizes.set(start, size);
        this.used += size;
        this.high = Math.max(this.high, this.used);
        return start;
      }
    }
    const start = this.top;
    const end = start + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        throw new RangeError(`wasm backend: cannot grow memory to ${end} bytes (request of ${bytes} bytes)`);
      }
    }
    this.top = end;
    this.sizes.set(start, size);
    this.used += size;
    this.high = Math.max(this.high, this.used);
    return start;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`wasm backend: free of unknown pointer ${ptr}`);
    this.sizes.delete(ptr);
    this.used -= size;
    let lo = 0, hi = this.free.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.free[mid][0] < ptr) lo = mid + 1; else hi = mid; }
    this.free.splice(lo, 0, [ptr, size]);
    // Coalesce with the next and previous blocks.
    if (lo + 1 < this.free.length && this.free[lo][0] + this.free[lo][1] === this.free[lo + 1][0]) {
      this.free[lo][1] += this.free[lo + 1][1];
      this.free.splice(lo + 1, 1);
    }
    if (lo > 0 && this.free[lo - 1][0] + this.free[lo - 1][1] === this.free[lo][0]) {
      this.free[lo - 1][1] += this.free[lo][1];
      this.free.splice(lo, 1);
      lo--;
    }
    // A free block that ends at the top returns to the unallocated tail.
    const last = this.free[this.free.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      this.free.pop();
    }
  }
}
