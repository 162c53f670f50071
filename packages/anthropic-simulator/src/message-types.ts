/**
 * The shapes of what the simulator answers, field for field as the Messages API sends them (and as
 * the official SDK types them: `test/simulator/message-type.test.ts` assigns these types to the
 * SDK's `Message`, so a field the SDK's current types require and the simulator leaves out fails
 * `npm run typecheck`). The package itself does not depend on the SDK.
 */

/** Who called a tool: the model itself. */
export interface SimCaller {
  type: 'direct';
}

export interface SimCharCitation {
  type: 'char_location';
  cited_text: string;
  document_index: number;
  document_title: string | null;
  start_char_index: number;
  end_char_index: number;
  file_id: string | null;
}

export interface SimPageCitation {
  type: 'page_location';
  cited_text: string;
  document_index: number;
  document_title: string | null;
  start_page_number: number;
  end_page_number: number;
  file_id: string | null;
}

export type SimCitation = SimCharCitation | SimPageCitation;

export interface SimTextBlock {
  type: 'text';
  text: string;
  citations: SimCitation[] | null;
}

export interface SimThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

export interface SimRedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

export interface SimToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
  caller: SimCaller;
}

export interface SimServerToolUseBlock {
  type: 'server_tool_use';
  id: string;
  name: 'web_search';
  input: unknown;
  caller: SimCaller;
}

export interface SimWebSearchResult {
  type: 'web_search_result';
  url: string;
  title: string;
  encrypted_content: string;
  page_age: string | null;
}

export interface SimWebSearchToolResultBlock {
  type: 'web_search_tool_result';
  tool_use_id: string;
  content: SimWebSearchResult[];
  caller: SimCaller;
}

/** A block of an answer's `content`. */
export type SimContentBlock =
  | SimTextBlock
  | SimThinkingBlock
  | SimRedactedThinkingBlock
  | SimToolUseBlock
  | SimServerToolUseBlock
  | SimWebSearchToolResultBlock;

export interface SimUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  /** Of `output_tokens`, those spent thinking; `null` in `message_start` (nothing generated yet). */
  output_tokens_details: { thinking_tokens: number } | null;
  server_tool_use: { web_search_requests: number; web_fetch_requests: number } | null;
  service_tier: 'standard' | 'priority' | 'batch';
  inference_geo: string | null;
  speed: 'standard' | 'fast';
}

/** A `message` object: a non-streaming answer, `message_start`'s message, a batch result's. */
export interface SimMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: SimContentBlock[];
  stop_reason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | null;
  stop_sequence: string | null;
  stop_details: null;
  container: null;
  diagnostics: null;
  usage: SimUsage;
}
