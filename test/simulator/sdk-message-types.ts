/**
 * Type level, checked by `npm run typecheck` (tsc over test/): each shape the simulator answers
 * with is assignable to the installed SDK's type of it. A field the SDK's current types require
 * that the simulator leaves out is a compile error here (see message-type.test.ts for run time).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type {
  SimContentBlock,
  SimMessage,
  SimServerToolUseBlock,
  SimToolUseBlock,
  SimUsage,
  SimWebSearchToolResultBlock,
} from '../../packages/anthropic-simulator/src/message-types.js';

export const sdkMessage = (m: SimMessage): Anthropic.Message => m;
export const sdkUsage = (u: SimUsage): Anthropic.Usage => u;
export const sdkBlock = (b: SimContentBlock): Anthropic.ContentBlock => b;
export const sdkToolUse = (b: SimToolUseBlock): Anthropic.ToolUseBlock => b;
export const sdkServerToolUse = (b: SimServerToolUseBlock): Anthropic.ServerToolUseBlock => b;
export const sdkSearchResult = (b: SimWebSearchToolResultBlock): Anthropic.WebSearchToolResultBlock => b;
