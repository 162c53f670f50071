import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';

const commands = [
  'start',
  'worker',
  'api',
  'enqueue',
  'pause',
  'resume',
  'backfill',
  'results',
  'batches',
  'probe',
  'report',
  'simulate',
  'bench',
];

describe('promptq --help, --version and usage errors', { timeout: 60_000 }, () => {
  it('--help lists every command and exits 0; --version prints the version and exits 0', async () => {
    const help = spawnCli(['--help'], {});
    expect(await help.exited).toBe(0);
    for (const c of commands) expect(help.stdout()).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    const version = spawnCli(['--version'], {});
    expect(await version.exited).toBe(0);
    expect(version.stdout().trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.stderr()).toBe('');
  });

  it('COMMAND --help exits 0 for every command, without reading the environment', async () => {
    // PORT is invalid: a command that loaded its configuration would exit 2.
    const runs = commands.map((c) => ({ c, p: spawnCli([c, '--help'], { PORT: 'eighty' }) }));
    for (const { c, p } of runs) {
      expect(await p.exited, `${c} --help: ${p.stderr()}`).toBe(0);
      expect(p.stdout(), c).toMatch(/usage/i);
    }
    const viaHelp = spawnCli(['help', 'backfill'], {});
    expect(await viaHelp.exited).toBe(0);
    expect(viaHelp.stdout()).toContain('--dry-run');
  });

  it('a wrong flag, a bad number or an unknown command exits 2 with one line on stderr', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['enqueue', '--bogus', 'hi'], /^promptq: unknown option '--bogus'/],
      [
        ['enqueue', '--max-tokens', 'many', 'hi'],
        /^promptq: --max-tokens: expected a whole number, got "many"/,
      ],
      [['backfill', '--chunk', '0', 'x.jsonl'], /^promptq: --chunk: must be between 1 and 10000, got 0/],
      [['results', '--id-prefix', 'a b', 'x.jsonl'], /^promptq: --id-prefix: /],
      [['report', '--json', '--frobnicate'], /^promptq: unknown option '--frobnicate'/],
      [['frobnicate'], /^promptq: unknown command 'frobnicate'/],
    ];
    const runs = cases.map(([argv, re]) => ({ argv, re, p: spawnCli(argv, {}) }));
    for (const { argv, re, p } of runs) {
      expect(await p.exited, argv.join(' ')).toBe(2);
      expect(p.stderr(), argv.join(' ')).toMatch(re);
      expect(p.stderr().trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
    }
  });

  it('no arguments prints the help and exits 2', async () => {
    const none = spawnCli([], {});
    expect(await none.exited).toBe(2);
    expect(none.stdout()).toMatch(/^Usage: promptq/);
  });
});
