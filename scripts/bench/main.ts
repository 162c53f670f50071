/**
 * `npm run bench [-- FLAGS]`: the benchmark harness straight from source (it is not part of the
 * build). `promptq bench` in a source checkout loads the same harness.
 */
import { benchCommand } from './bench.js';

process.exit(await benchCommand(process.argv.slice(2)));
