import { REDACTED_THINKING_TRIGGER } from '../../packages/anthropic-simulator/src/index.js';

/** The job kinds of issue 11 (the whole Messages API), each as a job body, for end-to-end tests. */
const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF').toString('base64');
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: {
      city: { type: 'string' },
      days: { type: 'integer', minimum: 1 },
      metric: { type: 'boolean' },
    },
    required: ['city', 'days', 'metric'],
  },
};

export const jobKinds: Record<string, Record<string, unknown>> = {
  'plain text': { model: 'claude-haiku-4-5', max_tokens: 60, prompt: 'Hello' },
  'forced tool choice': {
    model: 'claude-sonnet-4-5',
    max_tokens: 300,
    tools: [weatherTool],
    tool_choice: { type: 'tool', name: 'get_weather' },
    prompt: 'Weather in Paris?',
  },
  'extended thinking': {
    model: 'claude-sonnet-4-5',
    max_tokens: 2000,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    prompt: 'Think it through.',
  },
  'redacted thinking (the API test string)': {
    model: 'claude-sonnet-4-5',
    max_tokens: 2000,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    prompt: `${REDACTED_THINKING_TRIGGER} Think it through.`,
  },
  'image input': {
    model: 'claude-haiku-4-5',
    max_tokens: 80,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
          { type: 'text', text: 'What is this?' },
        ],
      },
    ],
  },
  'PDF with citations': {
    model: 'claude-sonnet-4-5',
    max_tokens: 120,
    messages: [
      {
        role: 'user',
        content: [
          {
            type: 'document',
            source: { type: 'base64', media_type: 'application/pdf', data: pdf },
            title: 'Report',
            citations: { enabled: true },
          },
          { type: 'text', text: 'Summarize, with citations.' },
        ],
      },
    ],
  },
  'text document with citations': {
    model: 'claude-haiku-4-5',
    max_tokens: 120,
    messages: [
      {
        role: 'user',
        content: [
          {
            type: 'document',
            source: { type: 'text', media_type: 'text/plain', data: 'The grass is green. The sky is blue.' },
            citations: { enabled: true },
          },
          { type: 'text', text: 'What colour is the grass?' },
        ],
      },
    ],
  },
  '1-hour cached system prompt': {
    model: 'claude-haiku-4-5',
    max_tokens: 60,
    system: [{ type: 'text', text: 'queue '.repeat(6000), cache_control: { type: 'ephemeral', ttl: '1h' } }],
    prompt: 'Hi',
  },
  'multi-turn with tool results': {
    model: 'claude-sonnet-4-5',
    max_tokens: 200,
    tools: [weatherTool],
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_01',
            name: 'get_weather',
            input: { city: 'Paris', days: 1, metric: true },
          },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, sunny' }] },
    ],
  },
  'server tool (web search)': {
    model: 'claude-sonnet-4-5',
    max_tokens: 200,
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    prompt: 'What is new?',
  },
};
