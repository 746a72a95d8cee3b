import { describe, expect, it } from 'vitest';
import { createAnchoring } from '../../../src/ledger/anchor.js';
import type { StoredCheckpoint } from '../../../src/ledger/log-store.js';
import { stoppableAnchoring } from '../../../src/runtime/anchoring.js';

/**
 * The process stops anchoring before it disposes the signer that issues the anchors' tokens (the
 * ledger, closed after the signers, may still offer a checkpoint while it closes): once stopped, a
 * checkpoint asks for no token, and the stop waits for the token already asked for.
 */

const checkpoint = (size: number) => ({ size, note: `checkpoint ${size}\n` }) as StoredCheckpoint;

/** Where a promise stands after the callbacks that are due have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  return Promise.race([
    promise.then(() => 'resolved'),
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

function anchoring() {
  const asked: { release: (logIndex: number | undefined) => void }[] = [];
  const warnings: string[] = [];
  const running = stoppableAnchoring({
    intervalMs: 1,
    issue: () => new Promise<number | undefined>((release) => asked.push({ release })),
    warn: (_fields, message) => warnings.push(message),
    // Every checkpoint is due: the interval is never what holds one back here.
    now: (() => {
      let t = 0;
      return () => (t += 1_000);
    })(),
  });
  return { running, asked, warnings };
}

describe('the process anchoring', () => {
  it('anchors a checkpoint while running', async () => {
    const { running, asked } = anchoring();
    running.offer(checkpoint(1));
    expect(asked).toHaveLength(1);
    asked[0]?.release(5);
    await outcome(Promise.resolve());
    running.offer(checkpoint(7));
    expect(asked).toHaveLength(2);
  });

  it('once stopped, asks for no token; the stop waits for the token in flight', async () => {
    const { running, asked, warnings } = anchoring();
    running.offer(checkpoint(1));
    const stopping = running.stop();
    expect(await outcome(stopping)).toBe('pending');
    running.offer(checkpoint(2));
    asked[0]?.release(1);
    expect(await outcome(stopping)).toBe('resolved');
    running.offer(checkpoint(3));
    expect(asked).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('stops at once with nothing in flight', async () => {
    const { running, asked } = anchoring();
    expect(await outcome(running.stop())).toBe('resolved');
    running.offer(checkpoint(1));
    expect(asked).toEqual([]);
  });
});

describe('the anchoring interval (ledger/anchor.ts)', () => {
  /**
   * An anchoring every 1,000 ms on a clock the test sets (`at`), whose tokens are asked for in
   * `asked`: each answered with the log index of the anchor's token.
   */
  function anchoringAt() {
    const clock = { now: 0 };
    const asked: ((logIndex: number | undefined) => void)[] = [];
    const anchor = createAnchoring({
      intervalMs: 1_000,
      issue: () => new Promise<number | undefined>((release) => asked.push(release)),
      warn: () => undefined,
      now: () => clock.now,
    });
    /** Answers the last token asked for, and lets the anchoring see it. */
    const answer = async (logIndex: number) => {
      asked.at(-1)?.(logIndex);
      await outcome(Promise.resolve());
    };
    return { anchor, asked, answer, at: (ms: number) => (clock.now = ms) };
  }

  it('anchors no checkpoint before the interval has passed since the last granted anchor', async () => {
    const { anchor, asked, answer, at } = anchoringAt();
    anchor(checkpoint(1));
    await answer(1);
    at(500);
    anchor(checkpoint(2));
    expect(asked).toHaveLength(1);
    at(1_000);
    anchor(checkpoint(3));
    expect(asked).toHaveLength(2);
  });

  it('anchors no checkpoint whose one new entry is the last anchor’s token: an idle log stays idle', async () => {
    const { anchor, asked, answer, at } = anchoringAt();
    // Checkpoint 10 (entries 0 to 9) is anchored; its token is entry 10, all checkpoint 11 adds.
    anchor(checkpoint(10));
    await answer(10);
    at(5_000);
    anchor(checkpoint(11));
    expect(asked).toHaveLength(1);
    // A client's token besides the anchor's: anchored again.
    anchor(checkpoint(12));
    expect(asked).toHaveLength(2);
    // A client's token (entry 12) logged before this anchor's (entry 13): checkpoint 14 adds the
    // client's, and is anchored; its anchor's token, entry 14, is all checkpoint 15 adds.
    await answer(13);
    at(10_000);
    anchor(checkpoint(14));
    expect(asked).toHaveLength(3);
    await answer(14);
    at(15_000);
    anchor(checkpoint(15));
    expect(asked).toHaveLength(3);
  });
});
