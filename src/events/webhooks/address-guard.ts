/**
 * The SSRF guard of webhook receivers: a URL whose host is, or resolves to, a loopback, private,
 * link-local, carrier-grade NAT, multicast, reserved or cloud-metadata address is refused — at
 * enqueue ({@link checkWebhookTarget}) and again at connect time ({@link guardedLookup}, the
 * `lookup` of the delivery's HTTP agent), so a name that resolves to a public address at enqueue
 * and to a private one later (DNS rebinding) is still refused. Redirects are never followed
 * (ops/webhooks/deliver.ts). `PROMPTQ_WEBHOOK_ALLOW_PRIVATE=true` opens every address;
 * `PROMPTQ_WEBHOOK_ALLOW_HOSTS` opens the host names, addresses and CIDR ranges it lists.
 *
 * Both checks go through one {@link AddressPolicy}, whose `lookup` is the system resolver in
 * production; tests hand it another resolver, and the same checks run.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { PromptqError } from '../../core/errors.js';
import type { WebhooksConfig } from '../../core/settings.js';

/** `dns.lookup` with `{all: true}`: every address of a host name. */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

export interface AddressPolicy {
  allowPrivate: boolean;
  /** Host names allowed whatever they resolve to (lower case). */
  hosts: ReadonlySet<string>;
  /** Addresses and ranges allowed although private. */
  allowed: BlockList;
  resolve: ResolveAll;
}

/** A receiver refused by the guard (a 400 at enqueue, a dead letter at delivery). */
export class WebhookTargetError extends PromptqError {
  override readonly name = 'WebhookTargetError';
  constructor(message: string) {
    super(message, { code: 'webhook_target_refused', exitCode: 2 });
  }
}

/** The addresses no webhook may reach unless allowed: what is not the public internet. */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, and the cloud metadata service 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // the unspecified address, loopback and the deprecated IPv4-compatible ::a.b.c.d
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local, AWS's metadata fd00:ec2::254 among them
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: an IPv4 address written as IPv6 is judged as IPv4. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Is the address one no webhook may reach (unless allowed)? */
export function isPrivateAddress(address: string): boolean {
  const a = unmapped(address);
  return blocked.check(a.address, a.family);
}

const systemResolve: ResolveAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/** The policy of a configuration; `resolve` replaces the system resolver (tests). */
export function addressPolicy(
  config: Pick<WebhooksConfig, 'allowPrivate' | 'allowHosts'>,
  resolve: ResolveAll = systemResolve,
): AddressPolicy {
  const hosts = new Set<string>();
  const allowed = new BlockList();
  const listed = config.allowHosts === undefined ? [] : config.allowHosts.split(',');
  for (const item of listed.map((s) => s.trim().toLowerCase())) {
    if (item === '') continue;
    const [net, bits] = item.split('/');
    const family = isIP(net ?? '');
    if (family === 0) hosts.add(item);
    else if (bits === undefined) allowed.addAddress(net!, family === 6 ? 'ipv6' : 'ipv4');
    else allowed.addSubnet(net!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
  }
  return { allowPrivate: config.allowPrivate, hosts, allowed, resolve };
}

/** Why this address of this host may not be reached; `undefined` when it may. */
function refusal(policy: AddressPolicy, hostname: string, address: string): string | undefined {
  if (policy.allowPrivate || policy.hosts.has(hostname.toLowerCase())) return undefined;
  const a = unmapped(address);
  if (!blocked.check(a.address, a.family) || policy.allowed.check(a.address, a.family)) return undefined;
  return `${hostname} is a loopback, private, link-local or metadata address (${address}); set PROMPTQ_WEBHOOK_ALLOW_PRIVATE=true or list it in PROMPTQ_WEBHOOK_ALLOW_HOSTS for an internal receiver`;
}

/** The host of a URL as the resolver takes it (`[::1]` → `::1`). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Refuse (throw {@link WebhookTargetError}) a receiver whose host is or resolves to a refused address. */
export async function checkWebhookTarget(policy: AddressPolicy, raw: string): Promise<void> {
  const hostname = hostOf(new URL(raw));
  if (policy.allowPrivate || policy.hosts.has(hostname.toLowerCase())) return;
  let addresses: LookupAddress[];
  try {
    addresses = isIP(hostname)
      ? [{ address: hostname, family: isIP(hostname) }]
      : await policy.resolve(hostname);
  } catch (err) {
    throw new WebhookTargetError(`webhook.url: ${hostname} does not resolve (${(err as Error).message})`);
  }
  for (const { address } of addresses) {
    const why = refusal(policy, hostname, address);
    if (why !== undefined) throw new WebhookTargetError(`webhook.url: ${why}`);
  }
}

/**
 * The `lookup` of the delivery's HTTP agent: resolves with the policy's resolver and refuses the
 * connection when any address is refused — the check at connect time.
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    const done = callback as (err: Error | null, address: string | LookupAddress[], family?: number) => void;
    policy.resolve(hostname).then(
      (addresses) => {
        for (const { address } of addresses) {
          const why = refusal(policy, hostname, address);
          if (why !== undefined) return done(new WebhookTargetError(why), '');
        }
        const first = addresses[0];
        if (first === undefined) return done(new Error(`${hostname}: no address`), '');
        if (all) return done(null, addresses);
        done(null, first.address, first.family);
      },
      (err: Error) => done(err, ''),
    );
  };
}

/** An IP-literal host never goes through `lookup`: check it before connecting. */
export function checkLiteralHost(policy: AddressPolicy, url: URL): void {
  const hostname = hostOf(url);
  if (isIP(hostname) === 0) return;
  const why = refusal(policy, hostname, hostname);
  if (why !== undefined) throw new WebhookTargetError(why);
}
