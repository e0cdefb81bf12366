/**
 * Quoting for the bash scripts stage generates. Everything that reaches a job script
 * from a Stagefile or a config file goes through here, so a path with a space or a
 * prompt-derived argument with a quote cannot change what the script does.
 */

/** Words made only of these characters mean the same quoted or not; leave them bare for readability. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one word for bash so that it is passed through literally: no expansion, no
 * splitting, no globbing. Single quotes are the only bash quoting with no special
 * characters inside; an embedded `'` is closed, escaped and reopened.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) {
    throw new Error(`Cannot pass a NUL character to a shell command: ${JSON.stringify(word)}`);
  }
  if (word === '') return "''";
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quotes each word of an argv and joins them into one command line. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment variable names are spliced into scripts unquoted, so they must be plain identifiers. */
export function assertEnvName(name: string, what: string): void {
  if (!ENV_NAME.test(name)) {
    throw new Error(`${what} must be a shell variable name ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(name)}`);
  }
}
