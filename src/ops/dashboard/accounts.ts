/**
 * The dashboard's account view: which account of which provider served the calls over a range,
 * from the per-minute rollups (`acct_*|provider/account`, store/rollup-format.ts). Both labels come
 * from the accounts file (`default`: the one account of `ANTHROPIC_API_KEY`), never from a job.
 */
import { dict, entry } from '../../core/dict.js';
import type { MinuteRollup } from '../../store/rollup-format.js';

/** One account's figures over the range. */
export interface AccountFigures {
  provider: string;
  account: string;
  /** API attempts it answered, and the failed ones. */
  attempts: number;
  failed_attempts: number;
  /** Jobs whose completing call it served, and their cost (at its prices). */
  completed: number;
  cost_usd: number;
}

/** Per `provider/account`, summed over the minutes. */
export function accountFigures(minutes: readonly MinuteRollup[]): Record<string, AccountFigures> {
  const out = dict<AccountFigures>();
  for (const m of minutes) {
    for (const [label, c] of Object.entries(m.accounts ?? {})) {
      const slash = label.indexOf('/');
      const a = entry(out, label, () => ({
        provider: label.slice(0, slash),
        account: label.slice(slash + 1),
        attempts: 0,
        failed_attempts: 0,
        completed: 0,
        cost_usd: 0,
      }));
      a.attempts += c.attempts;
      a.failed_attempts += c.failedAttempts;
      a.completed += c.completed;
      a.cost_usd += c.costMicro / 1e6;
    }
  }
  return out;
}
