import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/redis-server.js';
import { get, post, type Stack, startStack, testApiKey } from '../../helpers/stack.js';

describe('network versus model time', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('records connection set-up and time to first byte per call, and exports them', async () => {
    s = await startStack({ sim: { ttftMs: 40 } });
    const records = [];
    // Sequential: the first call opens the connection, the next ones may reuse it.
    for (let i = 0; i < 3; i++) {
      const r = await post(`${s.url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        prompt: `hi ${i}`,
      });
      const v = await get(`${s.url}/v1/jobs/${r.body.id as string}?wait=20`);
      expect(v.body.state).toBe('completed');
      records.push(v.body.record);
    }
    for (const r of records) {
      expect(r.connect_ms).toBeGreaterThanOrEqual(0);
      expect(r.ttfb_ms).toBeGreaterThanOrEqual(0);
      // Headers come before the first token, which comes before the end of the call.
      expect(r.ttfb_ms).toBeLessThanOrEqual(r.latency_ms);
    }
    // A fresh client has no connection yet: the first call paid for one.
    expect(records[0].connect_ms).toBeGreaterThan(0);
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    expect(m).toContain('promptq_api_time_to_first_byte_seconds_count{model="claude-haiku-4-5"} 3');
    const connects = Number(/promptq_api_connect_seconds_count\{phase="total"\} (\d+)/.exec(m)?.[1]);
    expect(connects).toBeGreaterThanOrEqual(1);
    expect(connects).toBe(records.filter((r) => r.connect_ms > 0).length);
    expect(m).toMatch(/promptq_api_connect_seconds_count\{phase="tcp"\} [1-9]/);
  });
});

describe('network timing under concurrency', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('calls that start together: each new connection is charged to exactly one of them', async () => {
    s = await startStack({ sim: { ttftMs: 40 }, env: { PROMPTQ_CONCURRENCY: '8' } });
    // The worker runs in this process: count the sockets it opens to the simulator.
    const port = Number(new URL(s.sim.url).port);
    let opened = 0;
    const onSocket = (msg: unknown) => {
      const socket = (msg as { socket: Socket }).socket;
      socket.once('connect', () => {
        if (socket.remotePort === port) opened += 1;
      });
    };
    dc.subscribe('net.client.socket', onSocket);
    try {
      const jobs = Array.from({ length: 16 }, (_, i) => ({
        model: 'claude-haiku-4-5',
        max_tokens: 20,
        prompt: `c${i}`,
      }));
      const ids = (await post(`${s.url}/v1/jobs/batch`, { jobs })).body.ids as string[];
      for (const id of ids) {
        const v = await get(`${s.url}/v1/jobs/${id}?wait=30`);
        expect(v.body.state).toBe('completed');
        expect(v.body.record.ttfb_ms).toBeGreaterThanOrEqual(0);
      }
    } finally {
      dc.unsubscribe('net.client.socket', onSocket);
    }
    // Several calls were out at once on a fresh client: several connections were opened.
    expect(opened).toBeGreaterThan(1);
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    const count = (phase: string) =>
      Number(new RegExp(`promptq_api_connect_seconds_count\\{phase="${phase}"\\} (\\d+)`).exec(m)?.[1]);
    expect(count('total')).toBe(opened);
    expect(count('tcp')).toBe(opened);
  });
});

describe('promptq probe', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('times DNS, TCP and a minimal request against the endpoint, without printing the key', async () => {
    s = await startStack({ parts: { worker: false } });
    const port = new URL(s.sim.url).port;
    const p = spawnCli(['probe', '--count', '2', '--url', `http://localhost:${port}`], {
      ANTHROPIC_API_KEY: testApiKey,
    });
    expect(await p.exited).toBe(0);
    const out = p.stdout();
    expect(out).toContain(`promptq probe: http://localhost:${port} (GET /v1/models, HTTP 200)`);
    const row = (name: string) =>
      out
        .split('\n')
        .find((l) => l.startsWith(name))
        ?.slice(name.length)
        .trim()
        .split(/\s+/);
    // localhost is a name: DNS is resolved and timed; plain HTTP has no TLS.
    for (const name of ['DNS lookup', 'TCP connect', 'request: time to first byte', 'request: total']) {
      const cells = row(name);
      expect(cells, name).toHaveLength(3);
      for (const c of cells ?? []) expect(Number(c), `${name}: ${c}`).toBeGreaterThanOrEqual(0);
    }
    expect(row('TLS handshake')).toEqual(['-', '-', '-']);
    expect(s.sim.stats().requests).toBe(0); // GET /v1/models is not a Messages call
    expect(`${out}${p.stderr()}`).not.toContain(testApiKey);
  });

  it('fails with exit 1 naming the cause when nothing listens, and 2 for a bad flag', async () => {
    const port = await freePort();
    const refused = spawnCli(['probe', '--count', '1', '--url', `http://127.0.0.1:${port}`], {
      ANTHROPIC_API_KEY: testApiKey,
    });
    const bad = spawnCli(['probe', '--count', 'zero'], { ANTHROPIC_API_KEY: testApiKey });
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toMatch(new RegExp(`probe of http://127.0.0.1:${port} failed: .*ECONNREFUSED`));
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toBe('promptq: --count: expected a whole number from 1 to 100\n');
  });
});
