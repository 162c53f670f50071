import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
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

describe('docs/reference', () => {
  it('environment.md lists every variable the configuration reads, and no other', () => {
    const code = new Set(
      [...read('src/core/config.ts').matchAll(/\b(?:str|int|fraction|bool)\(env, '([A-Z_]+)'/g)].map(
        (m) => m[1],
      ),
    );
    const doc = read('docs/reference/environment.md');
    const documented = new Set(
      [...doc.matchAll(/^\| `([A-Z_]+)`(?: \/ `([A-Z_]+)`)?(?: \/ `([A-Z_]+)`)?/gm)].flatMap((m) =>
        m.slice(1).filter((x) => x !== undefined),
      ),
    );
    expect([...documented].sort()).toEqual([...code].sort());
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
