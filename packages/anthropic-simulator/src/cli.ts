import type { SimulatorOptions } from './options.js';
import { startSimulator } from './server.js';

/** Default port of `promptq simulate` (the library default is 0 = any free port). */
export const DEFAULT_CLI_PORT = 4000;

const USAGE = `usage: promptq simulate [options]

Runs the Anthropic-compatible Messages API simulator until SIGINT/SIGTERM.

  --port P               listen port (default ${DEFAULT_CLI_PORT}; 0 = any free port)
  --host H               listen address (default 127.0.0.1)
  --rpm N                requests per minute per model group (default 1000; 0 = unlimited)
  --itpm N               input tokens per minute (default 450000; 0 = unlimited)
  --otpm N               output tokens per minute (default 90000; 0 = unlimited)
  --latency-ms N         delay before every response (default 0)
  --ttft-ms N            time to first token (default 20)
  --ms-per-token N       time per output token (default 0.2)
  --fault-529 P          probability of 529 overloaded_error (default 0)
  --fault-500 P          probability of 500 api_error (default 0)
  --fault-drop P         probability of a dropped connection (default 0)
  --fault-hang P         probability of a request that never answers (default 0)
  --fault-midstream P    probability of an overloaded error mid-stream (default 0)
  --short-interval S     also enforce limits over S seconds, hidden from headers (default 0 = off)
  --no-rate-limit-headers
                         send no anthropic-ratelimit-* headers (limits still enforced, a 429
                         still carries retry-after): an endpoint behind a gateway that drops them
  --batch-seconds S      Message Batches: seconds until a batch ends (default 10)
  --batch-errors P       Message Batches: probability of an errored request (default 0)
  --batch-expiry P       Message Batches: probability of an expired request (default 0)
  --seed N               PRNG seed for faults and output lengths (default 1)
  --help                 this text`;

/** Where the command writes and what stops it; tests inject these, the CLI uses the defaults. */
export interface SimulateCommandIo {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Stops the simulator when aborted (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

class UsageError extends Error {}

type Setter = (o: SimulatorOptions, v: number) => void;

const NUMERIC: Record<string, { kind: 'int' | 'number' | 'prob'; set: Setter }> = {
  '--port': { kind: 'int', set: (o, v) => (o.port = v) },
  '--rpm': { kind: 'int', set: (o, v) => (o.limits = { ...o.limits, rpm: v }) },
  '--itpm': { kind: 'int', set: (o, v) => (o.limits = { ...o.limits, itpm: v }) },
  '--otpm': { kind: 'int', set: (o, v) => (o.limits = { ...o.limits, otpm: v }) },
  '--latency-ms': { kind: 'number', set: (o, v) => (o.latencyMs = v) },
  '--ttft-ms': { kind: 'number', set: (o, v) => (o.ttftMs = v) },
  '--ms-per-token': { kind: 'number', set: (o, v) => (o.msPerToken = v) },
  '--fault-529': { kind: 'prob', set: (o, v) => (o.faults = { ...o.faults, overloaded: v }) },
  '--fault-500': { kind: 'prob', set: (o, v) => (o.faults = { ...o.faults, apiError: v }) },
  '--fault-drop': { kind: 'prob', set: (o, v) => (o.faults = { ...o.faults, drop: v }) },
  '--fault-hang': { kind: 'prob', set: (o, v) => (o.faults = { ...o.faults, hang: v }) },
  '--fault-midstream': { kind: 'prob', set: (o, v) => (o.faults = { ...o.faults, midstream: v }) },
  '--short-interval': { kind: 'number', set: (o, v) => (o.shortIntervalSeconds = v) },
  '--batch-seconds': {
    kind: 'number',
    set: (o, v) => (o.batches = { ...o.batches, processingSeconds: v }),
  },
  '--batch-errors': { kind: 'prob', set: (o, v) => (o.batches = { ...o.batches, errorRate: v }) },
  '--batch-expiry': { kind: 'prob', set: (o, v) => (o.batches = { ...o.batches, expiryRate: v }) },
  '--seed': { kind: 'int', set: (o, v) => (o.seed = v) },
};

function parseValue(flag: string, raw: string | undefined, kind: 'int' | 'number' | 'prob'): number {
  if (raw === undefined || raw === '') throw new UsageError(`${flag} needs a value`);
  const v = Number(raw);
  const ok =
    kind === 'int'
      ? Number.isInteger(v) && (flag === '--seed' || v >= 0)
      : kind === 'prob'
        ? Number.isFinite(v) && v >= 0 && v <= 1
        : Number.isFinite(v) && v >= 0;
  const rule =
    kind === 'int' ? 'a whole number' : kind === 'prob' ? 'a probability in [0, 1]' : 'a number >= 0';
  if (!ok) throw new UsageError(`${flag} must be ${rule} (got ${JSON.stringify(raw)})`);
  return v;
}

/** Parses `promptq simulate` flags (`--flag value` or `--flag=value`); `null` means `--help`. */
export function parseSimulateArgs(argv: readonly string[]): SimulatorOptions | null {
  const opts: SimulatorOptions = { port: DEFAULT_CLI_PORT };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return null;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = () => inline ?? argv[++i];
    if (flag === '--host') {
      const host = value();
      if (!host) throw new UsageError('--host needs a value');
      opts.host = host;
      continue;
    }
    if (flag === '--no-rate-limit-headers') {
      if (inline !== undefined) throw new UsageError('--no-rate-limit-headers takes no value');
      opts.rateLimitHeaders = false;
      continue;
    }
    const spec = NUMERIC[flag];
    if (!spec) throw new UsageError(`unknown option ${JSON.stringify(arg)} (see --help)`);
    spec.set(opts, parseValue(flag, value(), spec.kind));
  }
  return opts;
}

/**
 * `promptq simulate`: starts the simulator, prints one line with its URL, and runs until
 * SIGINT/SIGTERM (or `io.signal`). Returns the exit code (0 ok, 2 usage error) instead of exiting,
 * so callers decide.
 */
export async function runSimulateCommand(argv: string[], io: SimulateCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  let opts: SimulatorOptions | null;
  try {
    opts = parseSimulateArgs(argv);
  } catch (e) {
    err(`promptq simulate: ${(e as Error).message}`);
    return 2;
  }
  if (!opts) {
    out(USAGE);
    return 0;
  }
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    sim = await startSimulator(opts);
  } catch (e) {
    err(`promptq simulate: ${(e as Error).message}`);
    return 2;
  }
  out(`promptq simulator listening on ${sim.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await sim.close();
  return 0;
}
