/**
 * What the caller needs from a rate limiter: wait for room for a call of an estimated size, then
 * say what it really cost; pause everyone after a 429. The shared cross-process limiter
 * implements it; `unlimited` serves endpoints with no configured limits.
 */
export interface RateGate {
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<{settle(actualTokens: number): void}>;
  pauseFor(ms: number): void;
  observe?(headers: {get(name: string): string | null}): void;
}

export const unlimited: RateGate = {
  acquire: () => Promise.resolve({settle: () => {}}),
  pauseFor: () => {},
};

/** At most `n` holders at once, first come first served. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(n: number) {
    this.#free = n;
  }

  async take(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
