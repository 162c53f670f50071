import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { type EnvVariable, environmentVariables } from '../../src/core/env.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { registerQueueGauges } from '../../src/ops/metrics/queue-gauges.js';
import { registerTenantGauges } from '../../src/ops/metrics/tenant-gauges.js';

/** The reference pages in docs/ are the contract: they must say what the code does. */
const root = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const p = join(dir, name);
    if (['node_modules', 'dist', '.git', '.promptq'].includes(name)) return [];
    return statSync(join(root, p)).isDirectory() ? files(p) : [p];
  });
}

/** The rows of environment.md's tables: the variables (`A` / `B`) and their default cells, split alike. */
function envRows(): Array<{ names: string[]; defaults: string[] }> {
  const doc = read('docs/reference/environment.md');
  return [...doc.matchAll(/^\| (`[A-Z_]+`(?: \/ `[A-Z_]+`)*) \| ([^|]*) \|/gm)].map((m) => {
    const names = m[1]!.split(' / ').map((n) => n.replaceAll('`', ''));
    const parts = m[2]!.split(' / ').map((c) => c.trim());
    // One cell for several variables (`none`) is the default of each.
    const cells = parts.length === names.length ? parts : names.map(() => m[2]!.trim());
    // A default written as code is the value; the words after it (`604800` (7 days)) explain it.
    return { names, defaults: cells.map((c) => /^`([^`]*)`/.exec(c)?.[1] ?? c) };
  });
}

/** How environment.md must state a variable's default: the value of its (first) setting. */
function documentedDefault(variable: EnvVariable): string {
  if (variable.documentedDefault !== undefined) return variable.documentedDefault;
  const value = variable.paths[0]!.split('.').reduce<unknown>(
    (at, k) => (at as Record<string, unknown>)[k],
    defaults,
  );
  if (value === undefined) return '—';
  if (typeof value === 'object') return (value as { kind: string }).kind;
  return String(value);
}

describe('docs/reference', () => {
  it('environment.md lists every variable the configuration reads, and no other', () => {
    const code = new Set(environmentVariables.map((v) => v.name));
    const documented = new Set(envRows().flatMap((r) => r.names));
    expect([...documented].sort()).toEqual([...code].sort());
    // The loader reads the table, nothing else: a variable read around it would be missing above.
    expect(read('src/core/config.ts')).not.toMatch(/env\[['"]|process\.env\./);
  });

  it("environment.md's defaults are the configuration's (core/defaults.ts), variable by variable", () => {
    const wrong: string[] = [];
    for (const row of envRows()) {
      row.names.forEach((name, i) => {
        const variable = environmentVariables.find((v) => v.name === name);
        if (variable === undefined) return;
        const expected = documentedDefault(variable);
        if (row.defaults[i] !== expected)
          wrong.push(`${name}: documented ${row.defaults[i]}, default ${expected}`);
      });
    }
    expect(wrong).toEqual([]);
  });

  it('metrics.md names every promptq metric family /metrics exports, and no other', () => {
    const metrics = new Metrics();
    registerQueueGauges(metrics, { name: 'q' } as never);
    registerTenantGauges(metrics, { list: async () => [] });
    const exported = metrics.registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => !/^promptq_(process|nodejs)_/.test(n));
    const documented = [
      ...read('docs/reference/metrics.md').matchAll(/^\| `(promptq_[a-z_]+)`(?:, `(promptq_[a-z_]+)`)?/gm),
    ].flatMap((m) => m.slice(1).filter((x) => x !== undefined));
    expect([...new Set(documented)].sort()).toEqual([...new Set(exported)].sort());
  });

  it('every relative link in the README and docs/ leads to a file', () => {
    const broken: string[] = [];
    for (const page of ['README.md', ...files('docs').filter((p) => p.endsWith('.md'))]) {
      for (const [, target] of read(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue;
        try {
          statSync(join(root, page, '..', target));
        } catch {
          broken.push(`${page} → ${target}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('nothing in the repository points outside it', () => {
    const outside = /SPEC\.md|\.\.\/shared\//;
    const offenders = files('.')
      .filter((p) => /\.(ts|js|md|json|ya?ml)$|Dockerfile$/.test(p))
      .filter((p) => p !== relative(root, import.meta.filename))
      .filter((p) => outside.test(read(p)));
    expect(offenders).toEqual([]);
  });
});
