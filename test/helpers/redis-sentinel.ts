// The private Sentinel set lives in scripts/lib (a development tool, never built); tests import it from here.
export { TestSentinel, type TestSentinelOptions } from '../../scripts/lib/redis-sentinel.js';
