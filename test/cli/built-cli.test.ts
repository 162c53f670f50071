/**
 * `PROMPTQ_TEST_CLI=dist` (test/helpers/cli.ts, set by `.ci/run`): spawned processes run the build
 * only when it is at least as new as every source file, of promptq and of the simulator; else the
 * tests would run other code than the sources beside them.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCliIn } from '../helpers/cli.js';

const repo = mkdtempSync(join(tmpdir(), 'promptq-built-cli-'));
const T = 1_800_000_000; // seconds
const at = (file: string, seconds: number) => {
  const path = join(repo, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
  utimesSync(path, seconds, seconds);
};
const dist = { PROMPTQ_TEST_CLI: 'dist' };

describe('the build in place of the sources for spawned processes', () => {
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  it('is used only when asked for', () => {
    at('src/cli/main.ts', T);
    at('dist/src/cli/main.js', T + 10);
    at('packages/anthropic-simulator/src/index.ts', T);
    at('packages/anthropic-simulator/dist/index.js', T + 10);
    expect(builtCliIn(repo, {})).toBeUndefined();
    expect(builtCliIn(repo, { PROMPTQ_TEST_CLI: 'source' })).toBeUndefined();
    expect(builtCliIn(repo, dist)).toBe(join(repo, 'bin/promptq.js'));
  });

  it('is refused once a source file is newer than the build, by one second; as new is fresh', () => {
    at('src/store/keys.ts', T + 10);
    expect(builtCliIn(repo, dist)).toBe(join(repo, 'bin/promptq.js'));
    at('src/store/keys.ts', T + 11);
    expect(() => builtCliIn(repo, dist)).toThrow('dist/src/cli/main.js is older than src/');
    at('src/store/keys.ts', T);
    at('packages/anthropic-simulator/src/server.ts', T + 11);
    expect(() => builtCliIn(repo, dist)).toThrow(
      'packages/anthropic-simulator/dist/index.js is older than packages/anthropic-simulator/src/',
    );
  });

  it('is refused when there is no build', () => {
    rmSync(join(repo, 'dist'), { recursive: true });
    expect(() => builtCliIn(repo, dist)).toThrow('dist/src/cli/main.js is older than src/');
  });
});
