// Runs the CLI from source (tests need no build step):
// `node --conditions=source --import tsx test/helpers/cli-entry.ts ...` (the condition makes the
// simulator package resolve to its sources too).
import { main } from '../../src/cli/main.js';

process.exit(await main(process.argv.slice(2)));
