/** A binary min-heap under `before` (true when `a` comes out before `b`). */
export class PriorityQueue<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let child = items.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.#before(items[child] as T, items[parent] as T)) break;
      [items[child], items[parent]] = [items[parent] as T, items[child] as T];
      child = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let parent = 0;
      for (;;) {
        const left = parent * 2 + 1;
        const right = left + 1;
        let first = parent;
        if (left < items.length && this.#before(items[left] as T, items[first] as T)) first = left;
        if (right < items.length && this.#before(items[right] as T, items[first] as T)) first = right;
        if (first === parent) break;
        [items[first], items[parent]] = [items[parent] as T, items[first] as T];
        parent = first;
      }
    }
    return top;
  }
}
