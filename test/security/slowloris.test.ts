/**
 * Slow and hoarding clients (ops/http/server-limits.ts): a connection that trickles its headers is
 * closed after PROMPTQ_HTTP_HEADERS_TIMEOUT_MS (control: with a long timeout it is still open), and
 * one address holds at most PROMPTQ_MAX_CONNECTIONS_PER_IP connections (at the cap a request is
 * served, one past it the connection is closed unanswered).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Raw {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function open(url: string): Promise<Raw> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  let closed = false;
  socket.on('data', (d) => {
    data += d;
  });
  socket.on('error', () => {});
  const closing = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, received: () => data, closed: closing, isClosed: () => closed };
}

/** A connection that has sent the start of a request and keeps trickling header lines. */
async function trickle(url: string): Promise<Raw & { stop: () => void }> {
  const raw = await open(url);
  raw.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
  let n = 0;
  const timer = setInterval(() => {
    if (!raw.isClosed()) raw.socket.write(`X-Slow-${n++}: 1\r\n`);
  }, 250);
  return { ...raw, stop: () => clearInterval(timer) };
}

describe('slow clients', () => {
  let s: Stack | undefined;
  const sockets: Array<Raw & { stop?: () => void }> = [];
  afterEach(async () => {
    for (const r of sockets.splice(0)) {
      r.stop?.();
      r.socket.destroy();
    }
    await s?.close();
    s = undefined;
  });

  it('PROMPTQ_HTTP_HEADERS_TIMEOUT_MS=1000: a connection trickling its headers is closed (control: 60000 keeps it open)', async () => {
    s = await startStack({ env: { PROMPTQ_HTTP_HEADERS_TIMEOUT_MS: '1000' }, parts: { worker: false } });
    const slow = await trickle(s.url);
    sockets.push(slow);
    // Closed within the timeout plus the server's 1 s check, with slack for a loaded machine.
    const outcome = await Promise.race([slow.closed.then(() => 'closed'), sleep(8000).then(() => 'open')]);
    expect(outcome).toBe('closed');
    expect(slow.received()).not.toMatch(/^HTTP\/1\.1 200/);
    await s.close();

    s = await startStack({ env: { PROMPTQ_HTTP_HEADERS_TIMEOUT_MS: '60000' }, parts: { worker: false } });
    const control = await trickle(s.url);
    sockets.push(control);
    await sleep(4000);
    expect(control.isClosed()).toBe(false);
  });

  it('PROMPTQ_MAX_CONNECTIONS_PER_IP=3: with 2 held a 3rd connection is served; with 3 held a 4th is closed unanswered', async () => {
    s = await startStack({ env: { PROMPTQ_MAX_CONNECTIONS_PER_IP: '3' }, parts: { worker: false } });
    const request = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 2; i++) sockets.push(await trickle(s.url));
    await sleep(200);
    const third = await open(s.url);
    sockets.push(third);
    third.socket.write(request);
    await third.closed;
    expect(third.received()).toMatch(/^HTTP\/1\.1 200/);

    sockets.push(await trickle(s.url));
    await sleep(200);
    const fourth = await open(s.url);
    sockets.push(fourth);
    fourth.socket.write(request);
    await fourth.closed;
    expect(fourth.received()).toBe('');
  });
});
