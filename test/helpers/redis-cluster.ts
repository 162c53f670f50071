// The private Redis Cluster lives in scripts/lib (a development tool, never built); tests import it from here.
export {
  nodeCommand,
  poll,
  RedisProcess,
  TestCluster,
  type TestClusterOptions,
} from '../../scripts/lib/redis-cluster.js';
