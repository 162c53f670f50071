/**
 * The README and docs name the tests (and scripts) that prove what they promise: every path they
 * name must exist, so a rename or a deleted test breaks this test instead of leaving a promise with
 * no proof. Each row of README's Guarantees table names its proof, each proof is a file a test run
 * actually runs, and the tests the "By Redis topology" section says run on Cluster and Sentinel are
 * in vitest.topology.config.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import topologyConfig from '../../vitest.topology.config.js';

const root = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** The Markdown pages that make promises: README.md, docs/ (all of it), each package's README. */
function pages(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((name) => {
      const p = `${dir}/${name}`;
      if (statSync(join(root, p)).isDirectory()) return walk(p);
      return name.endsWith('.md') ? [p] : [];
    });
  const packages = readdirSync(join(root, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((p) => existsSync(join(root, p)));
  return ['README.md', ...walk('docs'), ...packages];
}

/** Every `test/…` and `scripts/…` path a text names (a glob names its folder). */
function pathsIn(text: string): string[] {
  const found = [...text.matchAll(/(?<![\w./-])((?:test|scripts)\/[\w./*-]*)/g)].map((m) =>
    m[1]!.replace(/\*.*$/, '').replace(/[.,:;]+$/, ''),
  );
  return [...new Set(found)];
}

const exists = (p: string) => existsSync(join(root, p));

/** README's Guarantees table: each promise row with the paths its "proved by" cell names. */
function guarantees(): Array<{ promise: string; proofs: string[] }> {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Guarantees'), readme.indexOf('### By Redis topology'));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| **'))
    .map((l) => {
      const cells = l.split(' | ');
      return { promise: /\*\*(.+?)\*\*/.exec(l)![1]!, proofs: pathsIn(cells.at(-1)!) };
    });
}

/**
 * Whether a test run runs this file: every `*.test.ts` under test/ is run by one of the three
 * (vitest.config.ts: all but test/chaos/ and test/topology/; vitest.chaos.config.ts: test/chaos/;
 * vitest.topology.config.ts: test/topology/); a script runs by itself.
 */
function isRun(p: string): boolean {
  return exists(p) && (!p.startsWith('test/') || p.endsWith('.test.ts'));
}

/**
 * The test files README's "By Redis topology" table says run on Cluster and Sentinel: those named in
 * a row whose Cluster or Sentinel cell is not "—", and those named in those cells.
 */
function topologyTests(): string[] {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('### By Redis topology'), readme.indexOf('## Documentation'));
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| promise'));
  return rows.flatMap((l) => {
    const cells = l.slice(2, -2).split(' | ');
    const elsewhere = cells.slice(2);
    const runs = elsewhere.some((c) => !c.startsWith('—'));
    return [...(runs ? pathsIn(cells[0]!) : []), ...elsewhere.flatMap((c) => pathsIn(c))];
  });
}

describe('paths the docs name', () => {
  it('finds the paths a text names (control: a planted one is reported)', () => {
    expect(
      pathsIn('proved by `test/chaos/api-faults.test.ts`, `scripts/load.ts`. See test/topology/**.'),
    ).toEqual(['test/chaos/api-faults.test.ts', 'scripts/load.ts', 'test/topology/']);
    expect(pathsIn('test/nowhere/gone.test.ts').filter((p) => !exists(p))).toEqual([
      'test/nowhere/gone.test.ts',
    ]);
  });

  it('every test/… and scripts/… path in README.md, docs/ and the packages’ READMEs exists', () => {
    const missing: string[] = [];
    let named = 0;
    for (const page of pages()) {
      for (const p of pathsIn(read(page))) {
        named += 1;
        if (!exists(p)) missing.push(`${page}: ${p}`);
      }
    }
    expect(named).toBeGreaterThan(30);
    expect(missing).toEqual([]);
  });

  it("every row of README's Guarantees table names its proof, a test file a test run runs", () => {
    const rows = guarantees();
    expect(rows.length).toBeGreaterThan(15);
    for (const row of rows) {
      expect(row.proofs.length, row.promise).toBeGreaterThan(0);
      for (const p of row.proofs) expect(isRun(p), `${row.promise}: ${p}`).toBe(true);
    }
  });

  it('the tests README says run on Cluster and Sentinel are in vitest.topology.config.ts', () => {
    const named = [...new Set(topologyTests())].filter((p) => p.endsWith('.test.ts'));
    const include = topologyConfig.test?.include ?? [];
    const inConfig = (p: string) =>
      include.includes(p) ||
      include.some((g) => g.endsWith('/**/*.test.ts') && p.startsWith(g.slice(0, -'**/*.test.ts'.length)));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((p) => !inConfig(p))).toEqual([]);
  });
});
