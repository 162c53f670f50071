/**
 * The package installs as a package (issue 25.7): `npm pack`'s tarball ships the build, the bin and
 * the bundled simulator, and no tests or sources; `npm install -g` puts it into an empty prefix
 * (tarballs from npm's cache), where `promptq --version` answers and `promptq start` starts its own
 * Redis and the built-in simulator and runs a job. The tarball is packed from the current build
 * (`dist/`, which `npm ci` and `npm run build` make).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** npm quiet, and nothing of the user's configuration in the way. */
const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 240_000, env: npmEnv, ...opts });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('the npm package', () => {
  let dir: string;
  let tarball: string;
  let files: string[];

  beforeAll(() => {
    expect(existsSync(join(root, 'dist/src/cli/main.js')), 'dist/ is built (npm run build)').toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'promptq-pack-'));
    const r = run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const [packed] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(dir, packed?.filename ?? '');
    files = packed?.files.map((f) => f.path) ?? [];
  }, 120_000);
  // The installed prefix and npx's copy hold thousands of files: removing them takes a while.
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('ships the build, the bin and the simulator, and no tests, sources or scripts', () => {
    expect(files).toContain('bin/promptq.js');
    expect(files).toContain('dist/src/cli/main.js');
    expect(files).toContain('dist/src/store/lua/rollup-add-N.lua');
    expect(files).toContain('node_modules/@promptq/anthropic-simulator/dist/index.js');
    expect(files).toContain('node_modules/@promptq/anthropic-simulator/package.json');
    const stray = files.filter(
      (f) => /^(test|src|scripts|packages|\.ci)\//.test(f) || /\.test\.[jt]s$/.test(f),
    );
    expect(stray).toEqual([]);
  });

  it('`npm install -g` installs it into an empty prefix: `promptq --version`, then `promptq start` runs a job on its own Redis and simulator', async () => {
    const prefix = join(dir, 'prefix');
    const install = run(npm, [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      tarball,
    ]);
    expect(install.code, install.stderr).toBe(0);
    const bin = join(prefix, process.platform === 'win32' ? 'promptq.cmd' : 'bin/promptq');
    const v = run(bin, ['--version']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(version);

    // `promptq start` from an empty directory, as a new user would: no Redis at REDIS_URL (it
    // starts its own there), no API key (the bundled simulator answers).
    const cwd = join(dir, 'work');
    mkdirSync(cwd);
    const [port, redisPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: cwd,
      PORT: String(port),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    };
    let stderr = '';
    const proc: ChildProcess = spawn(bin, ['start'], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      let health: unknown;
      for (let i = 0; i < 300 && health === undefined; i++) {
        health = await fetch(`${url}/healthz`)
          .then((r) => r.json())
          .catch(() => undefined);
        if (health === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health, stderr).toEqual({ ok: true });
      expect(existsSync(join(cwd, '.promptq/redis')), 'its own Redis keeps its data in .promptq/redis').toBe(
        true,
      );
      const job = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'Say hi.' }),
      }).then((r) => r.json() as Promise<{ id: string }>);
      const done = (await fetch(`${url}/v1/jobs/${job.id}?wait=30`).then((r) => r.json())) as {
        state: string;
      };
      expect(done.state, stderr).toBe('completed');
    } finally {
      proc.kill('SIGINT');
    }
    expect(await exited, stderr).toBe(0);
  }, 300_000);

  it('`npx` runs it from the tarball', () => {
    const r = run(
      npm,
      ['exec', '--yes', '--prefer-offline', `--package=${tarball}`, '--', 'promptq', '--version'],
      {
        cwd: dir,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  }, 300_000);
});
