/**
 * AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
 * invoke-with-response-stream sends it: each message is a prelude (total length, headers length,
 * the prelude's CRC32), string headers, the payload and the message's CRC32, all big-endian.
 * Node's own `zlib.crc32` computes the checksums: the simulator keeps to Node's built-ins.
 */
import { crc32 } from 'node:zlib';

/** Header value type 7: a UTF-8 string. */
const stringType = 7;

/** One event-stream message with string headers. */
export function eventStreamMessage(headers: Record<string, string>, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(1 + n.length + 1 + 2);
    head.writeUInt8(n.length, 0);
    n.copy(head, 1);
    head.writeUInt8(stringType, 1 + n.length);
    head.writeUInt16BE(v.length, 2 + n.length);
    parts.push(head, v);
  }
  const headerBytes = Buffer.concat(parts);
  const total = 12 + headerBytes.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headerBytes, payload]);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, trailer]);
}

/** A Bedrock `chunk` event carrying one Messages API stream event (base64 JSON in `bytes`). */
export function bedrockChunk(event: unknown): Buffer {
  const bytes = Buffer.from(JSON.stringify(event), 'utf8').toString('base64');
  return eventStreamMessage(
    { ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' },
    Buffer.from(JSON.stringify({ bytes }), 'utf8'),
  );
}

/** A Bedrock exception frame (`:exception-type` e.g. `throttlingException`) ending a stream. */
export function bedrockException(type: string, message: string): Buffer {
  return eventStreamMessage(
    { ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' },
    Buffer.from(JSON.stringify({ message }), 'utf8'),
  );
}
