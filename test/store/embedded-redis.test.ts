/**
 * The private Redis of `promptq start` (store/embedded-redis.ts), with real processes in a
 * directory of their own: its data directory is 0700 and its files 0600 (one an earlier version
 * left 0644 included), it asks for a password that is on no command line, promptq's commands in the
 * directory find it, and there is one per data directory: a second `promptq start` on the same
 * REDIS_URL uses it, one that would start a second server there is refused, naming the directory.
 * `--out` results files are written 0600 under the usual umask.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Every file and directory under `dir`, with its mode. */
function modes(dir: string): Array<[string, number]> {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => [
    name,
    modeOf(join(dir, name)),
  ]);
}

async function stop(p: CliProcess): Promise<number | null> {
  if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
  return p.exited;
}

describe('the private Redis of promptq start', () => {
  let cwd: string;
  let port: number;
  let first: CliProcess;
  const env = (redisPort: number) => ({ REDIS_URL: `redis://127.0.0.1:${redisPort}`, PORT: '0' });
  const running = (l: Record<string, unknown>) => l.msg === 'promptq running';

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'promptq-embedded-'));
    port = await freePort();
    // A file an earlier version left readable to everyone.
    const data = join(cwd, '.promptq/redis');
    mkdirSync(data, { recursive: true, mode: 0o755 });
    writeFileSync(join(data, 'old-notes.txt'), 'x', { mode: 0o644 });
    first = spawnCli(['start'], env(port), { cwd });
    await first.waitForLog(running, 30_000);
  }, 60_000);
  afterAll(async () => {
    await stop(first);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('its directory is 0700, its files 0600; it wants a password, on no command line; promptq enqueue finds it', async () => {
    const data = join(cwd, '.promptq/redis');
    // A job written, so that the append-only file has content.
    const enqueue = spawnCli(['enqueue', 'hello'], env(port), { cwd });
    expect(await enqueue.exited).toBe(0);
    expect(enqueue.stdout()).toMatch(/^[0-9a-f-]{36}\n$/);

    expect(modeOf(data)).toBe(0o700);
    const all = modes(data);
    expect(all.map(([n]) => n)).toEqual(
      expect.arrayContaining(['password', 'old-notes.txt', 'appendonlydir']),
    );
    for (const [name, mode] of all)
      expect([name, mode]).toEqual([name, statSync(join(data, name)).isDirectory() ? 0o700 : 0o600]);

    // Without the password nothing is read; with it (the control) the job is there.
    const anonymous = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
    });
    anonymous.on('error', () => {});
    await anonymous.connect();
    await expect(anonymous.keys('*')).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    const password = readFileSync(join(data, 'password'), 'utf8').trim();
    const owner = new Redis(port, '127.0.0.1', { password });
    expect((await owner.keys('bull:prompts:*')).length).toBeGreaterThan(0);
    owner.disconnect();

    const lock = JSON.parse(readFileSync(join(data, 'promptq.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: first.proc.pid, port: String(port) });
    const cmdline = readFileSync(`/proc/${lock.redis_pid}/cmdline`, 'utf8');
    expect(cmdline).toContain('redis-server');
    expect(cmdline).not.toContain(password);
  });

  it('a second promptq start on the same REDIS_URL uses it; one that would start another server on the directory is refused', async () => {
    const second = spawnCli(['start'], env(port), { cwd });
    try {
      await second.waitForLog((l) =>
        String(l.msg).startsWith('using the private redis-server already running'),
      );
      await second.waitForLog(running);
    } finally {
      expect(await stop(second)).toBe(0);
    }
    const other = await freePort();
    const third = spawnCli(['start'], env(other), { cwd });
    try {
      const ended = await Promise.race([third.exited, sleep(20_000).then(() => 'still running')]);
      expect(ended).toBe(2);
    } finally {
      await stop(third);
    }
    expect(third.stderr()).toContain(
      `${join(cwd, '.promptq/redis')} is in use by another promptq start (pid ${first.proc.pid})`,
    );
    // The first one's server still serves.
    const enqueue = spawnCli(['enqueue', 'still here'], env(port), { cwd });
    expect(await enqueue.exited).toBe(0);
  }, 60_000);

  it('--out results are written 0600 (umask 022 would make them 0644)', async () => {
    expect(process.umask()).toBe(0o022);
    const input = join(cwd, 'in.jsonl');
    writeFileSync(input, `${JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'x' })}\n`);
    const out = join(cwd, 'results.jsonl');
    const results = spawnCli(['results', input, '--out', out], env(port), { cwd });
    expect(await results.exited).toBe(1);
    expect(readFileSync(out, 'utf8')).toContain('"missing"');
    expect(modeOf(out)).toBe(0o600);
  });
});
