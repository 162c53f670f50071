/**
 * The accounts a job may name in `account`, checked at enqueue: a name the accounts file does not
 * have, or any name when there is no accounts file, is a 400 naming the field, not a job that
 * fails (or is silently served elsewhere) later. The file is read for its names only, at the first
 * job that names an account: a process that only enqueues needs none of the accounts' credentials.
 */
import type { PromptqConfig } from '../core/config.js';
import type { FieldProblem, JobRequest } from '../core/job.js';
import { loadAccounts } from './accounts.js';

export class AccountNames {
  readonly #file: string | undefined;
  #names: ReadonlySet<string> | undefined;

  constructor(config: Pick<PromptqConfig, 'accountsFile'>) {
    this.#file = config.accountsFile;
  }

  /** The file's account names (read once; a bad file throws its ConfigError). */
  #read(file: string): ReadonlySet<string> {
    this.#names ??= new Set(loadAccounts(file, process.env, false).map((a) => a.name));
    return this.#names;
  }

  /** What is wrong with a job's `account` (`prefix`: `jobs.N.` in a batch). */
  problems(request: Pick<JobRequest, 'account'>, prefix = ''): FieldProblem[] {
    const { account } = request;
    if (account === undefined) return [];
    if (this.#file === undefined) {
      return [
        {
          field: `${prefix}account`,
          message:
            'names an account, but no accounts file is configured (PROMPTQ_ACCOUNTS); without one, the one account of ANTHROPIC_API_KEY serves every job',
        },
      ];
    }
    const names = this.#read(this.#file);
    const known = [...names].sort().join(', ');
    const list = typeof account === 'string' ? [account] : account;
    const problems: FieldProblem[] = [];
    list.forEach((name, i) => {
      if (names.has(name)) return;
      const field = typeof account === 'string' ? `${prefix}account` : `${prefix}account.${i}`;
      problems.push({ field, message: `unknown account "${name}" (the accounts file has: ${known})` });
    });
    return problems;
  }
}
