/**
 * A manual clock for the limiter: time moves only when a test says so, and timers fire in
 * order as it passes them, so waits of seconds take no time and no test depends on the
 * machine's speed.
 */
import type {Clock} from '../../src/llm/limiter/index.js';

export class ManualClock implements Clock {
  #now: number;
  #timers: {at: number; fn: () => void; id: number}[] = [];
  #nextId = 1;

  constructor(start = 1_800_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({at: this.#now + Math.max(0, ms), fn, id});
    this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting the limiter react to each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
      await settled();
    }
    this.#now = end;
    await settled();
  }
}

/** Lets queued microtasks and immediate callbacks run (the limiter's cycles are asynchronous). */
export async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
