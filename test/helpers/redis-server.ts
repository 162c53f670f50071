// The private redis-server lives in src/ (the benchmark ships it in dist); tests import it from here.
export { freePort, TestRedis, type TestRedisOptions } from '../../scripts/lib/redis-server.js';
