import { Cluster, type Redis } from 'ioredis';
import type { RedisConnection } from '../../src/store/connection.js';

/**
 * Every key of a Redis database with its whole value as text, whatever its type (for scans such as
 * "the API key is nowhere in Redis").
 */
export async function dumpRedis(redis: RedisConnection): Promise<Map<string, string>> {
  // A cluster's keys are spread over its primaries: scan each.
  if (redis instanceof Cluster) {
    const parts = await Promise.all(redis.nodes('master').map((node) => dumpNode(node)));
    return new Map(parts.flatMap((m) => [...m]));
  }
  return dumpNode(redis);
}

async function dumpNode(redis: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      switch (type) {
        case 'string':
          value = await redis.get(key);
          break;
        case 'hash':
          value = await redis.hgetall(key);
          break;
        case 'list':
          value = await redis.lrange(key, 0, -1);
          break;
        case 'set':
          value = await redis.smembers(key);
          break;
        case 'zset':
          value = await redis.zrange(key, 0, -1, 'WITHSCORES');
          break;
        case 'stream':
          value = await redis.xrange(key, '-', '+');
          break;
        case 'none':
          continue; // expired between SCAN and TYPE
        default:
          value = `<${type}>`;
      }
      out.set(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return out;
}
