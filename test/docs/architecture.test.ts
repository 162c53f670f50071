import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** docs/architecture.md names the files a job passes through: each must be there. */
const root = join(import.meta.dirname, '../..');

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const p = join(dir, name);
    return statSync(join(root, p)).isDirectory() ? files(p) : [relative(root, join(root, p))];
  });
}

describe('docs/architecture.md', () => {
  const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const sources = files('src');
  /** Every `…​.ts` / `…​.lua` file name or path in backticks. */
  const named = [...new Set([...doc.matchAll(/`([\w./-]+\.(?:ts|lua))`/g)].map((m) => m[1] as string))];

  it('names source files, and every one it names exists under src/', () => {
    expect(named.length).toBeGreaterThan(40);
    const missing = named.filter(
      (name) => !sources.some((f) => f === name || f.endsWith(`/${name}`) || f === `src/${name}`),
    );
    expect(missing).toEqual([]);
  });

  it("shows one job's path: HTTP → queue → worker → provider → record → events", () => {
    const steps = [...doc.matchAll(/^\d\. \*\*(\w+)\.\*\*/gm)].map((m) => m[1]);
    expect(steps).toEqual(['HTTP', 'Queue', 'Worker', 'Provider', 'Record', 'Events']);
  });
});
