/**
 * One delivery attempt: a signed POST to the receiver, through the SSRF guard at connect time (the
 * request's `lookup`, and a check of an address written as the host), within `timeoutMs` from
 * connect to answer. Redirects are never followed: a 3xx is a refusal. The answer's body is read
 * and discarded.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Webhook } from 'standardwebhooks';
import { type AddressPolicy, checkLiteralHost, guardedLookup } from '../../events/webhooks/address-guard.js';

export interface Signed {
  url: string;
  webhookId: string;
  body: string;
  secret: string;
}

export interface PostAnswer {
  status: number;
  location: string | undefined;
}

/** The Standard Webhooks headers of one attempt (the timestamp is this attempt's). */
export function signatureHeaders(s: Omit<Signed, 'url'>, now = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'promptq-webhooks',
    'webhook-id': s.webhookId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(s.secret).sign(s.webhookId, now, s.body),
  };
}

/** POST the signed body; the receiver's status (throws on a refused address, a network error, the timeout). */
export function postSigned(s: Signed, policy: AddressPolicy, timeoutMs: number): Promise<PostAnswer> {
  const url = new URL(s.url);
  checkLiteralHost(policy, url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostAnswer>((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: signatureHeaders(s),
        lookup: guardedLookup(policy),
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(s.body);
  });
}
