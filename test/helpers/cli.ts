import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
/** tsx's loader by its path: a process run in another directory cannot resolve `tsx` by name. */
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

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
 * in `opts.cwd` when given.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  opts: { cwd?: string } = {},
): CliProcess {
  const loader = opts.cwd === undefined ? 'tsx' : tsx;
  const proc = spawn(process.execPath, ['--conditions=source', '--import', loader, entry, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
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
