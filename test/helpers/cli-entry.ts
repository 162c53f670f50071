// Runs the CLI from source (tests need no build step): `node --import tsx test/helpers/cli-entry.ts ...`.
import { main } from '../../src/cli/main.js';

process.exit(await main(process.argv.slice(2)));
