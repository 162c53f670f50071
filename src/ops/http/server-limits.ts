/**
 * The HTTP server's own limits against slow and hoarding clients (slowloris): a request's headers
 * must arrive within `http.headersTimeoutMs` and the whole request within `http.requestTimeoutMs`
 * (checked every second), idle keep-alive connections close after 5 s (Node's default), and one
 * client address holds at most `http.maxConnectionsPerIp` connections at once (one more is closed
 * as it opens). Long polls and event streams are answers, not requests: the timeouts do not cut them.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpConfig } from '../../core/settings.js';

/** How often Node checks the header and request timeouts (its default, 30 s, would let them run late). */
const checkEveryMs = 1000;

/** An HTTP server for `app` with the limits of `http`. */
export function limitedServer(
  app: RequestListener,
  http: Pick<HttpConfig, 'headersTimeoutMs' | 'requestTimeoutMs' | 'maxConnectionsPerIp'>,
): Server {
  const server = createServer(
    {
      headersTimeout: http.headersTimeoutMs,
      // Node wants the whole request to be allowed at least as long as its headers.
      requestTimeout: Math.max(http.requestTimeoutMs, http.headersTimeoutMs),
      connectionsCheckingInterval: checkEveryMs,
    },
    app,
  );
  if (http.maxConnectionsPerIp > 0) capPerAddress(server, http.maxConnectionsPerIp);
  return server;
}

/** Close each connection past `max` open from one address. */
function capPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const held = open.get(address) ?? 0;
    if (held >= max) {
      socket.destroy();
      return;
    }
    open.set(address, held + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
