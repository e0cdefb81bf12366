import type {Event} from '../event.js';
import type {Logger, Streams} from './logger.js';

/** NDJSON, one event per line on stdout: the interface for scripts, CI and the tests. */
export class JsonLogger implements Logger {
  readonly #streams: Streams;

  constructor(streams: Streams) {
    this.#streams = streams;
  }

  log(event: Event): void {
    this.#streams.out.write(`${JSON.stringify(event)}\n`);
  }

  close(): void {}
}
