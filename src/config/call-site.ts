import type {Location} from '../util/diagnostic.js';

/**
 * The place a declaration was written. Capturing a stack is cheap; formatting it and mapping the
 * compiled Stagefile back to its TypeScript source is not, so both happen only when a location is
 * actually shown (a diagnostic) or needed (the module that defines a rule).
 */
export interface CallSite {
  /** Holds V8's lazily formatted stack; read only through `resolveCallSite`. */
  readonly holder: object;
}

/** Maps a position in generated JavaScript back to the source file the user wrote. */
export type PositionMapper = (file: string, line: number, column: number) => Location;

// eslint-disable-next-line @typescript-eslint/ban-types
export function captureCallSite(below: Function): CallSite {
  const holder = {};
  const limit = Error.stackTraceLimit;
  // One frame is all a location needs; each extra frame costs time on 10k-target Stagefiles.
  Error.stackTraceLimit = 1;
  Error.captureStackTrace(holder, below);
  Error.stackTraceLimit = limit;
  return {holder};
}

interface V8CallSite {
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
}

/** The first stack frame of the declaration, mapped through `map` to the user's source. */
export function resolveCallSite(site: CallSite, map: PositionMapper): Location | undefined {
  const prepare = Error.prepareStackTrace;
  Error.prepareStackTrace = (_e, frames) => frames;
  let frames: V8CallSite[] | undefined;
  try {
    frames = (site.holder as {stack?: V8CallSite[]}).stack;
  } finally {
    Error.prepareStackTrace = prepare;
  }
  const frame = frames?.[0];
  const file = frame?.getFileName();
  if (!frame || !file) return undefined;
  return map(file, frame.getLineNumber() ?? 1, frame.getColumnNumber() ?? 1);
}
