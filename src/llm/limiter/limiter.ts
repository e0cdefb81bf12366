import {join, resolve} from 'node:path';
import {readRateLimitHeaders, type HeaderSource} from './headers.js';
import {FileLock} from './lock.js';
import {defaultLimitsDir, policyFor, systemClock, type Clock, type LimiterOptions} from './options.js';
import {checkEndpointId, fileStemFor, readStateFile, writeStateFile} from './state-file.js';
import {applyObservation, book, cancel, chargeExtra, earliestStart, emptyState, pauseUntil, prune, withdraw, type Ticket, type WindowPolicy, type WindowState} from './window.js';

/** Permission to start one call, and the place to report what it really cost. */
export interface Grant {
  /** When the call was let through (limiter clock, ms since the epoch). */
  readonly startAt: number;
  /** How long acquire() waited. */
  readonly waitedMs: number;
  /** Tokens booked for the call: its estimate, capped at the token limit. */
  readonly bookedTokens: number;
  /**
   * Reconciles the booking with the usage the response reported. More than booked is charged
   * at once (it delays the next call); less is given back only with `refundUnused`. Only the
   * first call counts. Cheap and synchronous: the change is written with the next state update.
   */
  settle(actualTokens: number): void;
}

interface Waiter {
  readonly tokens: number;
  readonly since: number;
  readonly resolve: (grant: Grant) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  /** The start booked for this waiter, once it is at the head of the queue. */
  ticket: Ticket | undefined;
}

type Update = (state: WindowState) => WindowState;

/** Counters for benchmarks and tests. */
export interface LimiterStats {
  /** Lock-read-write cycles run. */
  cycles: number;
  /** Time spent in them, lock waits included (ms). */
  cycleMs: number;
  /** Calls let through. */
  granted: number;
}

/**
 * The rate limiter of one endpoint, shared by every stage process on the machine.
 *
 * All shared state (see window.ts) lives in one small file per endpoint and is changed only
 * under a lock file, in a cycle of lock, read, decide, write, unlock that takes a fraction of a
 * millisecond. Each cycle serves this process's queue in order: calls that may start now are let
 * through, and the first one that must wait *books* its start time in the shared state, then
 * sleeps until then. Bookings are made in time order by whichever process gets the lock, so a
 * large call that books a late start is not overtaken by small calls from any process: that is
 * the fairness, and it also means waiting needs no polling. A process keeps at most one booking
 * ahead of time, so one that dies or is interrupted wastes at most one slot.
 *
 * Everything else a caller does (settle, pauseFor, observe) is queued and written by the next
 * cycle, so it costs nothing on the call path.
 */
export class EndpointLimiter {
  readonly id: string;
  readonly policy: WindowPolicy;
  /** The state file; it holds times and counts only, never anything about keys or prompts. */
  readonly statePath: string;
  readonly stats: LimiterStats = {cycles: 0, cycleMs: 0, granted: 0};
  readonly #lock: FileLock;
  readonly #clock: Clock;
  readonly #refund: boolean;
  readonly #queue: Waiter[] = [];
  #updates: Update[] = [];
  #flushes: {resolve: () => void; reject: (e: unknown) => void}[] = [];
  #kicked = false;
  #running = false;
  #again = false;
  #timer: unknown = undefined;

  constructor(options: LimiterOptions) {
    const problem = checkEndpointId(options.id);
    if (problem) throw new RangeError(problem);
    this.id = options.id;
    this.policy = policyFor(options);
    const dir = resolve(options.dir ?? defaultLimitsDir());
    const stem = fileStemFor(options.id);
    this.statePath = join(dir, `${stem}.json`);
    this.#lock = new FileLock(join(dir, `${stem}.lock`), options.lock);
    this.#clock = options.clock ?? systemClock;
    this.#refund = options.refundUnused ?? false;
  }

  /**
   * Resolves when a call estimated at `estimatedTokens` (prompt plus n × max_tokens) may start.
   * Calls are let through in the order they asked. Aborting `signal` gives up the place (and any
   * start booked for it) and rejects with the signal's reason.
   */
  acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Grant> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Grant>((resolve, reject) => {
      const waiter: Waiter = {
        tokens: estimatedTokens,
        since: this.#clock.now(),
        resolve,
        reject,
        signal,
        onAbort: () => this.#abandon(waiter),
        ticket: undefined,
      };
      signal?.addEventListener('abort', waiter.onAbort, {once: true});
      this.#queue.push(waiter);
      this.#kick();
    });
  }

  /** No call starts, in any process, for `ms` from now: after a 429 that said how long to wait. */
  pauseFor(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.#clock.now() + ms;
    this.#update((s) => pauseUntil(s, until));
  }

  /** Learns from a response's `x-ratelimit-*` headers (announced limits, use by others). */
  observe(headers: HeaderSource): void {
    const obs = readRateLimitHeaders(headers);
    if (!obs) return;
    const now = this.#clock.now();
    this.#update((s) => applyObservation(s, obs, now, this.policy));
  }

  /** Resolves once everything queued so far (settlements, pauses, observations) is written. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#flushes.push({resolve, reject});
      this.#kick();
    });
  }

  /** Calls waiting in this process. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** The shared state as it is on disk now, for inspection and tests. */
  readState(): WindowState | undefined {
    return readStateFile(this.statePath);
  }

  #update(update: Update): void {
    this.#updates.push(update);
    this.#kick();
  }

  /** Runs a cycle soon; every acquire, settle and pause of the current tick share that cycle. */
  #kick(): void {
    if (this.#kicked) return;
    this.#kicked = true;
    queueMicrotask(() => {
      this.#kicked = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#locked();
      } while (this.#again || this.#updates.length > 0 || this.#flushes.length > 0);
    } finally {
      this.#running = false;
    }
    this.#arm();
  }

  async #locked(): Promise<void> {
    const flushes = this.#flushes;
    this.#flushes = [];
    const t0 = performance.now();
    let granted: [Waiter, Grant][];
    try {
      // The usual case takes the lock and releases it within this synchronous stretch, so it is
      // never held across an await, where another limiter in this process would have to wait.
      if (!this.#lock.tryAcquire()) await this.#lock.acquire();
      try {
        granted = this.#cycle();
      } finally {
        this.#lock.release();
      }
    } catch (e) {
      // The state cannot be read or written: nobody here can be let through safely.
      for (const w of this.#queue.splice(0)) {
        w.signal?.removeEventListener('abort', w.onAbort);
        w.reject(e);
      }
      this.#updates = [];
      for (const f of flushes) f.reject(e);
      return;
    } finally {
      this.stats.cycles++;
      this.stats.cycleMs += performance.now() - t0;
    }
    this.stats.granted += granted.length;
    for (const [w, grant] of granted) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(grant);
    }
    for (const f of flushes) f.resolve();
  }

  /** One read-decide-write under the lock. Synchronous, so the lock is held as briefly as possible. */
  #cycle(): [Waiter, Grant][] {
    const now = this.#clock.now();
    const stored = readStateFile(this.statePath);
    const base = prune(stored ?? emptyState(this.policy), now, this.policy);
    let state = base;
    const updates = this.#updates;
    this.#updates = [];
    for (const update of updates) state = update(state);
    const granted: [Waiter, Grant][] = [];
    while (this.#queue.length > 0) {
      const w = this.#queue[0]!;
      if (w.ticket) {
        if (state.pausedUntil > w.ticket.at) {
          // Paused after this start was booked: give the slot back and book again after the pause.
          state = cancel(state, w.ticket, this.policy);
          w.ticket = undefined;
        } else if (w.ticket.at <= now) {
          this.#queue.shift();
          granted.push([w, this.#grant(w, w.ticket, now)]);
          continue;
        } else {
          break;
        }
      }
      const at = earliestStart(state, w.tokens, now, this.policy);
      const booked = book(state, at, w.tokens, this.policy);
      state = booked.state;
      w.ticket = booked.ticket;
      if (at > now) break;
      this.#queue.shift();
      granted.push([w, this.#grant(w, booked.ticket, now)]);
    }
    // Written when something changed; a fresh state is not written until something is in it.
    if (state !== stored && (stored !== undefined || state !== base)) writeStateFile(this.statePath, state);
    return granted;
  }

  #grant(w: Waiter, ticket: Ticket, now: number): Grant {
    let settled = false;
    return {
      startAt: now,
      waitedMs: now - w.since,
      bookedTokens: ticket.tokens,
      settle: (actualTokens: number): void => {
        if (settled || !Number.isFinite(actualTokens) || actualTokens < 0) return;
        settled = true;
        const delta = actualTokens - ticket.tokens;
        if (delta > 0) {
          const at = this.#clock.now();
          this.#update((s) => chargeExtra(s, delta, at, this.policy));
        } else if (delta < 0 && this.#refund) {
          this.#update((s) => withdraw(s, ticket, 0, -delta));
        }
      },
    };
  }

  /** A waiter gave up: take it out of the queue and give back any start it had booked. */
  #abandon(w: Waiter): void {
    const i = this.#queue.indexOf(w);
    if (i < 0) return; // already let through
    this.#queue.splice(i, 1);
    const ticket = w.ticket;
    if (ticket) this.#update((s) => cancel(s, ticket, this.policy));
    else this.#kick();
    w.reject(w.signal?.reason ?? new Error('aborted'));
  }

  /** Sleeps until the head of the queue may start; a cycle then lets it through. */
  #arm(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const head = this.#queue[0];
    if (!head) return;
    if (!head.ticket) {
      this.#kick();
      return;
    }
    const delay = head.ticket.at - this.#clock.now();
    if (delay <= 0) {
      this.#kick();
      return;
    }
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, delay);
  }
}
