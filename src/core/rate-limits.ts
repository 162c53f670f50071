/**
 * The rate-limited resources, named once. A model group has a per-minute limit on requests, input
 * tokens and output tokens; promptq calls them by the API's names (its `anthropic-ratelimit-*`
 * headers, `-` written `_`), which are also the `resource` label of the metrics. Users write the
 * limits per minute as RPM, ITPM and OTPM (`--rpm`, `PROMPTQ_MAX_ITPM`, …): {@link perMinuteName}
 * is that spelling, for flags, variables and messages only.
 */

export type Resource = 'requests' | 'input_tokens' | 'output_tokens';

export const resources: readonly Resource[] = ['requests', 'input_tokens', 'output_tokens'];

/** What the headers announce besides: `tokens`, input and output together. */
export type AnnouncedResource = Resource | 'tokens';

export const announcedResources: readonly AnnouncedResource[] = [...resources, 'tokens'];

/** How users spell a per-minute limit of each resource. */
export const perMinuteName = {
  requests: 'rpm',
  input_tokens: 'itpm',
  output_tokens: 'otpm',
} as const satisfies Record<Resource, string>;

export type PerMinuteName = (typeof perMinuteName)[Resource];

/** Per-minute limits by the users' spelling; absent or 0 = none. */
export type PerMinuteLimits = Partial<Record<PerMinuteName, number | undefined>>;
