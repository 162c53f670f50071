#!/usr/bin/env node
// The promptq command. Runs the compiled CLI (npm install builds it via the "prepare" script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('promptq: not built yet: run `npm run build` (npm install does it for you)\n');
  process.exit(2);
}
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
process.exit(code);
