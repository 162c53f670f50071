/**
 * The simulator's README says what the package does: its flag table is the command's flags, and its
 * code example runs as written (in a child process, importing the package by its name).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runSimulateCommand } from '../../packages/anthropic-simulator/src/index.js';

const root = join(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'packages/anthropic-simulator/README.md'), 'utf8');
const flagsIn = (text: string) => new Set([...text.matchAll(/--[a-z][a-z0-9-]+/g)].map((m) => m[0]));

describe('the simulator README', () => {
  it('documents every flag of `promptq simulate`, and no other', async () => {
    const help: string[] = [];
    expect(await runSimulateCommand(['--help'], { stdout: (l) => help.push(l) })).toBe(0);
    const table = readme.slice(readme.indexOf('| flag |'), readme.indexOf('## From code'));
    const commandFlags = flagsIn(help.join('\n'));
    commandFlags.delete('--help');
    expect([...flagsIn(table)].sort()).toEqual([...commandFlags].sort());
  });

  it('its code example runs against the simulator through the SDK', async () => {
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    // A directory of its own whose node_modules is the checkout's: the package resolves by name
    // (.mts: an ES module, as in a "type": "module" project).
    const dir = mkdtempSync(join(tmpdir(), 'simulator-readme-'));
    try {
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
      writeFileSync(join(dir, 'example.mts'), example ?? '');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', join(dir, 'example.mts')],
        { cwd: dir, timeout: 60_000 },
      );
      expect(stdout.trim()).toMatch(/^(end_turn|max_tokens|stop_sequence) 1$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
