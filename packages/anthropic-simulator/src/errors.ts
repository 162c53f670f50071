/** The real API's error `type` and a typical message for each status the simulator produces. */
export const ERROR_DEFAULTS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: {
    type: 'permission_error',
    message: 'Your API key does not have permission to use the specified resource.',
  },
  404: { type: 'not_found_error', message: 'Not found' },
  405: { type: 'invalid_request_error', message: 'Method not allowed' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: {
    type: 'rate_limit_error',
    message: 'Number of requests has exceeded your rate limit. Please try again later.',
  },
  500: { type: 'api_error', message: 'Internal server error' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

/** The real API's error envelope. `details.error_code` is what the SDK exposes as `errorCode`. */
export interface ErrorBody {
  type: 'error';
  error: { type: string; message: string; details?: { error_code: string } };
  request_id?: string;
}

/** Builds an error body; `requestId` is omitted for in-stream errors, which the real API sends bare. */
export function errorBody(type: string, message: string, requestId?: string, errorCode?: string): ErrorBody {
  const body: ErrorBody = { type: 'error', error: { type, message } };
  if (errorCode) body.error.details = { error_code: errorCode };
  if (requestId) body.request_id = requestId;
  return body;
}

/** The real API's 429 message for a per-minute limit. */
export function rateLimitMessage(
  resource: 'requests' | 'input_tokens' | 'output_tokens',
  limit: number,
): string {
  const unit = { requests: 'requests', input_tokens: 'input tokens', output_tokens: 'output tokens' }[
    resource
  ];
  return (
    `This request would exceed the rate limit for your organization of ${limit.toLocaleString('en-US')} ${unit} per minute. ` +
    'For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. ' +
    'Please reduce the prompt length or the maximum tokens requested, or try again later.'
  );
}
