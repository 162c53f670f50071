/**
 * docs/library.md's examples are programs that work: every ```ts block is extracted, type-checked
 * against the package's own types (`import … from 'promptq'` resolves to src/ through the
 * package's `source` export condition) and run as its own Node process, against a private Redis and
 * the simulator, the way a user would run it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { Logger } from '../../src/core/log.js';
import { type RunningWorker, startWorker } from '../../src/ops/start-worker.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { freePort, TestRedis } from '../helpers/redis-server.js';
import { testApiKey } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The ```ts blocks of a Markdown page, each under the `## ` heading it follows. */
function tsBlocks(markdown: string): Array<{ heading: string; code: string }> {
  const blocks: Array<{ heading: string; code: string }> = [];
  let heading = '';
  for (const m of markdown.matchAll(/^## (.+)$|^```ts\n([\s\S]*?)^```$/gm)) {
    if (m[1] !== undefined) heading = m[1].trim();
    else blocks.push({ heading, code: m[2]! });
  }
  return blocks;
}

/** A program run as a user runs it: Node with tsx, from inside the package (so `promptq` resolves). */
interface Program {
  proc: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
  waitFor: (text: string | RegExp, timeoutMs?: number) => Promise<void>;
}

function run(file: string, env: Record<string, string>): Program {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', file], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    stdout: () => out,
    exited,
    async waitFor(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!seen()) {
        if (proc.exitCode !== null)
          throw new Error(`exited ${proc.exitCode}; stdout:\n${out}\nstderr:\n${err}`);
        if (Date.now() > deadline) throw new Error(`no ${text} in stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const blocks = tsBlocks(readFileSync(join(root, 'docs/library.md'), 'utf8'));
/** Where the examples are written: inside the package, so that `import 'promptq'` resolves to it. */
const dir = join(root, 'tmp', `library-examples-${randomUUID().slice(0, 8)}`);
const files = blocks.map((_, i) => join(dir, `example-${i + 1}.ts`));
const fileOf = (heading: string) => {
  const i = blocks.findIndex((b) => b.heading === heading);
  if (i < 0) throw new Error(`docs/library.md has no example under "## ${heading}"`);
  return files[i]!;
};

describe('docs/library.md: every example type-checks and runs', () => {
  const redis = new TestRedis();
  let sim: Simulator;
  /** A worker in this process, for the examples that need one running (the first and the third). */
  let worker: RunningWorker | undefined;
  const startTestWorker = async () => {
    worker = await startWorker({
      redis: { url: redis.url },
      anthropic: { apiKey: testApiKey, baseUrl: sim.url },
      logger: new Logger('silent'),
    });
  };

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    for (const [i, b] of blocks.entries()) writeFileSync(files[i]!, b.code);
    await redis.start();
    sim = await startSimulator({ seed: 1 });
  });
  afterAll(async () => {
    await worker?.close();
    await sim?.close();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the three examples, each under its heading', () => {
    expect(blocks.map((b) => b.heading)).toEqual([
      'Enqueue a job and wait for its result',
      'Run a worker in your own process',
      'Add the HTTP API to an existing express server',
    ]);
  });

  it('type-checks against the package as a user imports it', () => {
    const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const program = ts.createProgram(files, { ...options, noEmit: true });
    const problems = files.flatMap((f) =>
      ts.getPreEmitDiagnostics(program, program.getSourceFile(f)).map((d) => {
        const where =
          d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        return `${d.file?.fileName ?? ''}:${where ? where.line + 1 : ''} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
    expect(problems).toEqual([]);
  }, 120_000);

  it('enqueue and wait: the job completes, with its cost', async () => {
    await startTestWorker();
    const p = run(fileOf('Enqueue a job and wait for its result'), { REDIS_URL: redis.url });
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toMatch(/^[\w-]+ completed; it cost \$0\.\d+/);
    await worker?.close();
    worker = undefined;
  }, 120_000);

  it('a worker in your own process: takes the jobs, reports each, drains on SIGTERM', async () => {
    const p = run(fileOf('Run a worker in your own process'), { REDIS_URL: redis.url });
    await p.waitFor('worker ready on queue "prompts"');
    const queue = new PromptQueue({ redis: { url: redis.url } });
    try {
      const { id } = await queue.add({ model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' });
      expect((await queue.wait(id, 60_000))?.state).toBe('completed');
      await p.waitFor(`${id} completed $`);
    } finally {
      await queue.close();
    }
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 120_000);

  it('the HTTP API in an express server: its own routes, then promptq’s, behind the token', async () => {
    await startTestWorker();
    const port = await freePort();
    const token = `docs-${randomUUID()}`;
    const p = run(fileOf('Add the HTTP API to an existing express server'), {
      REDIS_URL: redis.url,
      PORT: String(port),
      PROMPTQ_AUTH_TOKEN: token,
    });
    await p.waitFor(`listening on ${port}`);
    const url = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'world' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' });
    const headers = { 'content-type': 'application/json' };
    // The token guards the API (control: without it, 401).
    expect((await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body })).status).toBe(401);
    const auth = { ...headers, authorization: `Bearer ${token}` };
    const added = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: auth, body });
    expect(added.status, await added.clone().text()).toBe(202);
    const { id } = (await added.json()) as { id: string };
    const done = await fetch(`${url}/v1/jobs/${id}?wait=60`, { headers: auth });
    expect(((await done.json()) as { state: string }).state).toBe('completed');
    expect((await fetch(`${url}/nothing-here`, { headers: auth })).status).toBe(404);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 120_000);
});
