/**
 * Every configuration field has exactly one default: its value in `defaults` (src/core/defaults.ts),
 * documented once, by its field in src/core/settings.ts (or settings-worker.ts, the worker's and
 * the limiter's slices); no other file in src/ states one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { defaults } from '../../src/core/defaults.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Settings given whole (not merged field by field, config.ts). */
const whole = new Set(['jobs.models']);

/** Every field of the configuration: dotted path → its default. */
function leaves(value: unknown, path = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (typeof value === 'object' && value !== null && !whole.has(path)) {
    for (const [key, inner] of Object.entries(value)) {
      for (const [p, v] of leaves(inner, path === '' ? key : `${path}.${key}`)) out.set(p, v);
    }
  } else out.set(path, value);
  return out;
}

/** How settings.ts writes a default: `8`, `bull`, `{ kind: 'any' }`. */
function written(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).map(
      ([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : written(v)}`,
    );
    return `{ ${fields.join(', ')} }`;
  }
  return String(value);
}

/** Where the fields are documented: settings.ts, and the worker's and limiter's slices. */
const settingsFiles = ['src/core/settings.ts', 'src/core/settings-worker.ts'];

/** The `@defaultValue` of each field in settings.ts, by path, following the interfaces from PromptqConfig. */
function documentedDefaults(): Map<string, string | undefined> {
  const source = settingsFiles.map(read).join('\n');
  const interfaces = new Map<string, Array<{ name: string; type: string; doc: string }>>();
  for (const m of source.matchAll(/export interface (\w+) \{([\s\S]*?)\n\}/g)) {
    const fields = [...m[2]!.matchAll(/((?:\s*\/\*\*[\s\S]*?\*\/)?)\s*readonly (\w+): ([^;]+);/g)].map(
      (f) => ({
        doc: f[1]!,
        name: f[2]!,
        type: f[3]!,
      }),
    );
    interfaces.set(m[1]!, fields);
  }
  const out = new Map<string, string | undefined>();
  const walk = (name: string, path: string) => {
    for (const field of interfaces.get(name) ?? []) {
      const at = path === '' ? field.name : `${path}.${field.name}`;
      const nested = field.type
        .split('|')
        .map((t) => t.trim())
        .find((t) => interfaces.has(t));
      if (nested !== undefined && !whole.has(at)) walk(nested, at);
      else out.set(at, /@defaultValue `([^`]*)`/.exec(field.doc)?.[1]);
    }
  };
  walk('PromptqConfig', '');
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * Where a file other than defaults.ts (the values) and settings.ts (their documentation) states a
 * default of a configuration field: a fallback (`lockDurationMs ?? 60_000`, `?? opts.x`: anything
 * but `defaults.…`), a literal value (`lockDurationMs: 60_000`, a second table; `lockDurationMs =
 * 60_000`, a parameter default) or a documented one (`@defaultValue` on a field of that name).
 * Fields are found by their compound names (`maxAttempts`, not `queue` or `port`): words that say
 * what they are mean the same wherever they appear.
 */
/**
 * Compound names that mean something else too, in src/ (a poll's `maxMs`, the progress line's
 * `intervalMs`, a job's `maxTokens`, the simulator's `apiKey`): not found by name. Their fields
 * are required in the slices that hold them, so no component falls back on its own value.
 */
const elsewhere = new Set(['baseMs', 'maxMs', 'intervalMs', 'maxTokens', 'apiKey', 'baseUrl']);

function secondDefaults(
  files: ReadonlyArray<{ path: string; text: string }>,
  fieldNames: readonly string[],
): string[] {
  const names = fieldNames.filter((n) => /[a-z][A-Z]/.test(n) && !elsewhere.has(n)).join('|');
  const literal = String.raw`(?:-?[\d_]+(?:\.\d+)?|'[^']*'|true|false)(?![\w.])`;
  const patterns = [
    new RegExp(String.raw`\b(?:${names})\s*\?\?(?!\s*defaults\.)`),
    // A property (`name: 8`) or a parameter's default (`(name = 8`, `, name = 8`).
    new RegExp(String.raw`(?:\b|[(,]\s*)(?:${names})\??\s*:\s*${literal}`),
    new RegExp(String.raw`[(,]\s*(?:${names})\s*(?::\s*\w+\s*)?=(?!=)\s*${literal}`),
  ];
  const documented = new RegExp(
    String.raw`@defaultValue(?!\s*\`?defaults\.)(?:(?!\*/)[\s\S])*\*/\s*(?:readonly\s+)?(?:${names})\??:`,
    'g',
  );
  const found: string[] = [];
  for (const { path, text } of files) {
    text.split('\n').forEach((line, i) => {
      if (patterns.some((p) => p.test(line))) found.push(`${path}:${i + 1}: ${line.trim()}`);
    });
    for (const m of text.matchAll(documented)) {
      const line = text.slice(0, m.index).split('\n').length;
      found.push(`${path}:${line}: ${m[0].split('\n')[0]!.trim()}`);
    }
  }
  return found;
}

/** src/, but for the one place of the values and the one place of their documentation. */
function srcFiles(): Array<{ path: string; text: string }> {
  const skip = new Set([
    join('src', 'core', 'defaults.ts'),
    ...settingsFiles.map((f) => join(...f.split('/'))),
  ]);
  return sourceFiles('src')
    .map((file) => relative(root, join(root, file)))
    .filter((path) => !skip.has(path))
    .map((path) => ({ path, text: read(path) }));
}

describe('one default per configuration field', () => {
  const fields = leaves(defaults);

  it('every field of the resolved configuration has its default in `defaults`, and nothing else does', () => {
    const resolved = leaves(resolveConfig({}));
    expect([...resolved.keys()].sort()).toEqual([...fields.keys()].sort());
    for (const [path, value] of resolved) expect(value, path).toEqual(fields.get(path));
    expect(fields.size).toBeGreaterThan(90);
  });

  it('every field is documented once, in settings.ts, with the value it has', () => {
    const documented = documentedDefaults();
    expect([...documented.keys()].sort()).toEqual([...fields.keys()].sort());
    const wrong = [...fields].filter(([path, value]) => documented.get(path) !== written(value));
    expect(
      wrong.map(
        ([path, value]) => `${path}: @defaultValue \`${documented.get(path)}\`, value ${written(value)}`,
      ),
    ).toEqual([]);
  });

  const names = [...new Set([...fields.keys()].map((p) => p.split('.').at(-1)!))];

  it('no other file in src/ states a default of a field (a fallback, a literal, a @defaultValue)', () => {
    expect(secondDefaults(srcFiles(), names)).toEqual([]);
  });

  it('the check finds each kind of second default, and lets a reference to the one default be (control)', () => {
    const file = (text: string) => [{ path: 'x.ts', text }];
    expect(secondDefaults(file('const defaultTuning = {\n  overloadMaxMs: 30_000,\n};'), names)).toEqual([
      'x.ts:2: overloadMaxMs: 30_000,',
    ]);
    expect(secondDefaults(file('lockDuration: opts.lockDurationMs ?? 60_000,'), names)).toHaveLength(1);
    expect(secondDefaults(file('function f(maxAttempts = 8) {}'), names)).toHaveLength(1);
    expect(
      secondDefaults(file('  /** Attempts. @defaultValue `8` */\n  maxAttempts?: number;'), names),
    ).toHaveLength(1);
    // The one default referred to, a type, a value passed on: none is a second default.
    const clean = [
      'lockDuration: opts.lockDurationMs ?? defaults.worker.lockDurationMs,',
      '  readonly lockDurationMs: number;',
      'lockDuration: settings.lockDurationMs,',
      'if (maxAttempts === 3) return;',
    ];
    expect(secondDefaults(file(clean.join('\n')), names)).toEqual([]);
  });
});
