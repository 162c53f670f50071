// The private redis-server lives in scripts/lib (a development tool, never built); tests import it from here.
export { freePort, TestRedis, type TestRedisOptions } from '../../scripts/lib/redis-server.js';
