/**
 * The environment variables a service command (`start`, `worker`, `api`) reads, for its `--help`:
 * the main ones with what they do, then every other by name (the one table of core/env.ts), and
 * where each is explained (docs/reference/environment.md).
 */
import { environmentVariables } from '../core/env.js';

const main: Array<[string, string]> = [
  ['REDIS_URL', "the queue's Redis (start: a private one in .promptq/redis when none answers)"],
  ['ANTHROPIC_API_KEY', 'the API key; unset: the built-in API simulator answers'],
  ['PROMPTQ_QUEUE', 'the queue name (default prompts)'],
  ['HOST, PORT', 'where the HTTP API (and a worker its /metrics) listens (default 127.0.0.1:3000)'],
  ['PROMPTQ_AUTH_TOKEN', 'the bearer token the API, /metrics and the dashboard require'],
  ['PROMPTQ_CONCURRENCY', 'calls in flight per worker (default: chosen by the limiter)'],
];

/** Wraps names into lines of at most `width` characters, indented. */
function wrap(names: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const n of names) {
    if (line.length + n.length + 1 > width && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${n} `;
  }
  if (line.trim() !== '') lines.push(line.trimEnd());
  return lines;
}

/** The text after a service command's usage. */
export function serviceEnvHelp(): string {
  const shown = new Set(main.flatMap(([n]) => n.split(', ')));
  const rest = environmentVariables.map((v) => v.name).filter((n) => !shown.has(n));
  const pad = Math.max(...main.map(([n]) => n.length));
  return [
    '',
    'Environment (every variable: docs/reference/environment.md):',
    ...main.map(([n, what]) => `  ${n.padEnd(pad)}  ${what}`),
    '  and',
    ...wrap(rest, 100, '    '),
    '',
  ].join('\n');
}
