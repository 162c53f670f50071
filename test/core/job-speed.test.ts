/** `speed` on the job body: `standard` or `fast`; `fast` refused on Sonnet and Haiku models. */
import { describe, expect, it } from 'vitest';
import { ValidationError, validateJob } from '../../src/core/job.js';

function problems(body: unknown): Array<{ field: string; message: string }> {
  try {
    validateJob(body);
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  return [];
}

describe('job speed', () => {
  const opus = { model: 'claude-opus-5-5', max_tokens: 100, prompt: 'hi' };

  it('accepts fast and standard on an Opus model and keeps the field for the API', () => {
    expect(validateJob({ ...opus, speed: 'fast' }).request.speed).toBe('fast');
    expect(validateJob({ ...opus, speed: 'standard' }).request.speed).toBe('standard');
    expect(validateJob(opus).request.speed).toBeUndefined();
  });

  it('refuses a speed that is neither, naming the field', () => {
    expect(problems({ ...opus, speed: 'turbo' }).map((p) => p.field)).toEqual(['speed']);
    expect(problems({ ...opus, speed: true }).map((p) => p.field)).toEqual(['speed']);
  });

  it('refuses fast on Sonnet and Haiku, for the model and for each fallback model', () => {
    const sonnet = problems({ ...opus, model: 'claude-sonnet-4-6', speed: 'fast' });
    expect(sonnet).toEqual([
      { field: 'speed', message: expect.stringContaining('not available on Sonnet or Haiku') },
    ]);
    expect(
      problems({ ...opus, model: 'claude-haiku-4-5-20251001', speed: 'fast' }).map((p) => p.field),
    ).toEqual(['speed']);
    expect(
      problems({ ...opus, speed: 'fast', fallback_models: ['claude-opus-5', 'claude-haiku-4-5'] }).map(
        (p) => p.field,
      ),
    ).toEqual(['fallback_models.1']);
    // Standard speed is fine on any model; fast on a model promptq does not know is left to the API.
    expect(problems({ ...opus, model: 'claude-sonnet-4-6', speed: 'standard' })).toEqual([]);
    expect(problems({ ...opus, model: 'claude-fable-5-2', speed: 'fast' })).toEqual([]);
  });
});
