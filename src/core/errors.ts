/**
 * The root of promptq's errors. Every error promptq raises on purpose is a {@link PromptqError}: a
 * stable `code` for programs, and the `exitCode` the CLI ends with when the error reaches it
 * (1 = the job or run failed, 2 = usage or configuration). Subclasses are small and named, so
 * callers branch on the class, never on the message.
 */

/** How a CLI run ends when the error reaches it: 1 a job/run failure, 2 usage or configuration. */
export type ExitCode = 1 | 2;

export interface PromptqErrorOptions {
  /** A stable machine-readable name, e.g. `config`, `usage`, `invalid_job`. */
  code: string;
  /** @defaultValue `1` */
  exitCode?: ExitCode;
  cause?: unknown;
}

/** The root class: a message for people, a `code` for programs, an exit code for the CLI. */
export class PromptqError extends Error {
  override readonly name: string = 'PromptqError';
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(message: string, options: PromptqErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A wrong command line (a bad flag value, a missing argument, unusable input); exit code 2. */
export class UsageError extends PromptqError {
  override readonly name: string = 'UsageError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'usage', exitCode: 2, ...options });
  }
}

/**
 * An invalid setting; exit code 2. `variable` names it: the environment variable when it came from
 * the environment (`PROMPTQ_MAX_ATTEMPTS`), else the setting's path (`worker.maxAttempts`).
 */
export class ConfigError extends PromptqError {
  override readonly name: string = 'ConfigError';
  constructor(
    readonly variable: string,
    /** What is wrong with it, without the name. */
    readonly reason: string,
  ) {
    super(`${variable}: ${reason}`, { code: 'config', exitCode: 2 });
  }
}
