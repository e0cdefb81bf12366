import type {Event} from '../event.js';

/** A sink for events. Loggers are the only code that writes to the terminal. */
export interface Logger {
  log(event: Event): void;
  /** Finishes output (clears a status line). */
  close(): void;
}

/** Where loggers write; injected so tests can capture output. */
export interface Streams {
  readonly out: NodeJS.WritableStream & {isTTY?: boolean; columns?: number};
  readonly err: NodeJS.WritableStream & {isTTY?: boolean};
}
