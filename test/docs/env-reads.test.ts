/**
 * Every environment variable src/ reads is documented in docs/reference/environment.md. The
 * configuration's table (core/env.ts) is checked row by row in reference.test.ts; this looks at
 * the code itself, so a variable read around the table (`process.env.X`, `env.X`, `env['X']`, or
 * a name kept in a list and read through it, like the OpenTelemetry endpoints) is caught too.
 * Names an accounts file chooses (`api_key_env`, …) are the user's: providers.md documents those.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentVariables } from '../../src/core/env.js';

const root = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(join(root, p)).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** The variables a source file reads, by name: direct reads, and the names it keeps as strings. */
function variablesRead(text: string): string[] {
  const direct = [
    ...text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\])/g),
  ].map((m) => m[1] ?? m[2]!);
  const kept = [
    ...text.matchAll(/['"`]((?:PROMPTQ|OTEL|ANTHROPIC|REDIS|AWS|GOOGLE|CLOUD_ML)_[A-Z0-9_]+)['"`]/g),
  ].map((m) => m[1]!);
  return [...direct, ...kept];
}

describe('environment variables read in src/', () => {
  const doc = readFileSync(join(root, 'docs/reference/environment.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));

  it('each is documented in docs/reference/environment.md', () => {
    const read = new Map<string, string>();
    for (const file of sources('src'))
      for (const name of variablesRead(readFileSync(join(root, file), 'utf8'))) read.set(name, file);
    for (const v of environmentVariables) read.set(v.name, 'src/core/env.ts');
    const missing = [...read].filter(([name]) => !documented.has(name)).map(([n, f]) => `${n} (${f})`);
    expect(missing).toEqual([]);
    // The scan finds what it must: the table's variables, and the OpenTelemetry ones read around it.
    for (const name of ['PROMPTQ_SECRETS_KEY', 'OTEL_SDK_DISABLED', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'HOST'])
      expect(read.has(name)).toBe(true);
  });

  it('the scan sees each way of reading one', () => {
    expect(
      variablesRead(
        `process.env.A_B; env['C_D']; env.E; const list = ['OTEL_X_Y']; f("PROMPTQ_Z"); env[name]`,
      ).sort(),
    ).toEqual(['A_B', 'C_D', 'E', 'OTEL_X_Y', 'PROMPTQ_Z']);
  });
});
