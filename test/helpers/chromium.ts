/** Debian's Chromium driven by playwright-core (nothing is downloaded), for the browser tests. */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const chromiumPath = '/usr/bin/chromium';

/** Run the browser tests: Chromium is installed, or CI is set (then a missing one fails, not skips: .ci/run installs it). */
export const browserTests =
  existsSync(chromiumPath) || !['', '0', 'false', undefined].includes(process.env.CI);

/** A headless Chromium with everything that would reach the network off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
