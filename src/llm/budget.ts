/**
 * The build's spending limit. A call reserves its estimated price before it starts and settles
 * at its real price; a call that would take spending past the limit is not started, so the limit
 * holds even with many calls in flight.
 */
export class Budget {
  readonly limit: number | undefined;
  #spent = 0;
  #reserved = 0;
  /** Set once a call was refused, so the build can say why it stopped. */
  exhausted = false;

  constructor(limit: number | undefined) {
    this.limit = limit;
  }

  get spent(): number {
    return this.#spent;
  }

  /** Reserves `estimate` dollars, or refuses when that could pass the limit. */
  reserve(estimate: number): boolean {
    if (this.limit !== undefined && this.#spent + this.#reserved + estimate > this.limit) {
      this.exhausted = true;
      return false;
    }
    this.#reserved += estimate;
    return true;
  }

  /** Replaces a reservation by the real price (0 for a call that failed). */
  settle(estimate: number, actual: number): void {
    this.#reserved -= estimate;
    this.#spent += actual;
  }
}
