/**
 * A binary min-heap of (time, item): the stack's TCP timers. Each TCB is filed under
 * its earliest timer; when a TCB's timers move, a new entry is pushed and the old one
 * is skipped when it surfaces (the TCB knows the time it is really filed under).
 */
export class TimerHeap<T> {
  private times: number[] = [];
  private items: T[] = [];

  get size(): number {
    return this.times.length;
  }

  push(at: number, item: T): void {
    const times = this.times;
    const items = this.items;
    let i = times.length;
    times.push(at);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= at) break;
      times[i] = times[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    times[i] = at;
    items[i] = item;
  }

  /** The earliest time, or Infinity when empty. */
  peek(): number {
    return this.times.length > 0 ? this.times[0]! : Infinity;
  }

  /** Removes the earliest entry and returns its item. */
  pop(): T | undefined {
    const times = this.times;
    const items = this.items;
    if (times.length === 0) return undefined;
    const top = items[0]!;
    const lastT = times.pop()!;
    const lastI = items.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && times[r]! < times[l]! ? r : l;
        if (times[c]! >= lastT) break;
        times[i] = times[c]!;
        items[i] = items[c]!;
        i = c;
      }
      times[i] = lastT;
      items[i] = lastI;
    }
    return top;
  }
}
