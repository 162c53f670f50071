import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
/** tsx's loader by its path: a process run in another directory cannot resolve `tsx` by name. */
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const root = fileURLToPath(new URL('../../', import.meta.url));

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

/** The newest modification time of a file under `dir` (0: none). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/**
 * `PROMPTQ_TEST_CLI=dist` (`.ci/run` sets it; its `npm ci` has just built dist/ from these
 * sources): spawned processes run the build, `bin/promptq.js`, instead of the sources through tsx,
 * whose loader costs each process about twice the CPU to load promptq (2.3 against 1.2 CPU-s for
 * the whole module graph). A build older than any file of src/ or of the simulator's sources is
 * refused: the test would run other code than the sources it sits beside. `dir`: the repository.
 */
export function builtCliIn(dir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PROMPTQ_TEST_CLI !== 'dist') return undefined;
  const pairs: Array<[string, string]> = [
    ['src', 'dist/src/cli/main.js'],
    ['packages/anthropic-simulator/src', 'packages/anthropic-simulator/dist/index.js'],
  ];
  for (const [src, out] of pairs) {
    const builtAt = statSync(join(dir, out), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (newest(join(dir, src)) > builtAt)
      throw new Error(`PROMPTQ_TEST_CLI=dist: ${out} is older than ${src}/ (run \`npm run build\`)`);
  }
  return join(dir, 'bin/promptq.js');
}

let built: { bin: string | undefined } | undefined;
/** {@link builtCliIn} this repository, checked once per process. */
function builtCli(): string | undefined {
  built ??= { bin: builtCliIn(root) };
  return built.bin;
}

/**
 * Spawn `promptq ARGS` from source (or the build: {@link builtCli}) with the given environment
 * (nothing inherited but PATH/HOME), in `opts.cwd` when given.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  opts: { cwd?: string } = {},
): CliProcess {
  const loader = opts.cwd === undefined ? 'tsx' : tsx;
  const bin = builtCli();
  const argv = bin ? [bin, ...args] : ['--conditions=source', '--import', loader, entry, ...args];
  const proc = spawn(process.execPath, argv, {
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
