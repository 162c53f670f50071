import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
/** tsx's loader by path: `--import tsx` would be looked up from the process' working directory. */
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

export interface CliProcess {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Structured log lines (stderr JSON). */
  logs: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Resolves when a log line matches. */
  waitForLog: (
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>>;
}

/**
 * Spawn `promptq ARGS` from source with the given environment (nothing inherited but PATH/HOME),
 * in `cwd` when given (where `.promptq/` goes).
 */
export function spawnCli(args: string[], env: Record<string, string>, cwd?: string): CliProcess {
  const loader = cwd === undefined ? 'tsx' : tsx;
  const proc = spawn(process.execPath, ['--conditions=source', '--import', loader, entry, ...args], {
    ...(cwd === undefined ? {} : { cwd }),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const logs = () =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    async waitForLog(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find(pred);
        if (hit) return hit;
        if (proc.exitCode !== null)
          throw new Error(`process exited (${proc.exitCode}) before the log line; stderr:\n${err}`);
        if (Date.now() > deadline)
          throw new Error(`no such log line within ${timeoutMs} ms; stderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
