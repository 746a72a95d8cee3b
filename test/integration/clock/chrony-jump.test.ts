import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readChrony } from '../../../src/clock/chrony-client.js';
import { chronyVerdict } from '../../../src/clock/chrony-verdict.js';
import { freeUdpPort, startChronyClient, startNtpServer } from '../../helpers/chrony.js';
import { ntpRelay } from '../../helpers/ntp-relay.js';
import { until } from '../../helpers/sntp-responder.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** How many samples of its one source chronyd holds (`sourcestats`' NP). */
async function samplesHeld(socket: string): Promise<number> {
  const { stdout } = await promisify(execFile)('chronyc', [
    '-c',
    '-n',
    '-h',
    socket,
    'sourcestats',
  ]);
  return Number(stdout.split(',')[1]);
}

const JUMP_MS = 2000;

describe("chronyd's bound after a sudden change of the clock's offset (as after a step)", () => {
  it('covers the whole jump on every update of chronyd after it, while System time takes it in over several', async () => {
    const right = await startNtpServer({ port: await freeUdpPort() });
    cleanups.push(() => right.stop());
    const behind = await startNtpServer({
      port: await freeUdpPort(),
      skewSeconds: -JUMP_MS / 1000,
    });
    cleanups.push(() => behind.stop());
    // Answers of the right server that come back after the switch are dropped: every sample
    // chronyd takes after it is of the server behind.
    const relay = await ntpRelay(right.port, { dropStale: true });
    cleanups.push(() => relay.close());
    // A regression over at least 16 samples, as a chronyd that has run a while makes (it keeps
    // up to 64): a new sample that jumps weighs little in it, so System time takes the jump in
    // over several updates.
    const client = await startChronyClient([
      `server 127.0.0.1 port ${relay.port} iburst minpoll 0 maxpoll 0 minsamples 16`,
    ]);
    cleanups.push(() => client.stop());
    await until(async () => (await samplesHeld(client.socket)) >= 16, '16 samples', 100);

    // To chronyd, the local clock has just stepped 2 s ahead of the time it follows.
    relay.to(behind.port);
    const read = () => readChrony({ socket: client.socket, timeoutMs: 10_000 });
    // Read after the switch: every later update rests on a sample of the server behind.
    let { refTime } = (await read()).tracking;
    const updates: { state: string; boundMs?: number; systemTime: number; sample?: number }[] = [];
    while (updates.length < 6) {
      const reading = await read();
      if (reading.tracking.refTime === refTime) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      refTime = reading.tracking.refTime;
      // A threshold far above the jump: the state follows the bound alone.
      const { state, evidence } = chronyVerdict(reading, {
        thresholdMs: 60_000,
        requireNts: false,
      });
      updates.push({
        state,
        ...(evidence ? { boundMs: evidence.boundMs, sample: evidence.sampleOffsetMs } : {}),
        systemTime: reading.tracking.systemTime,
      });
    }
    // The local clock is 2 s ahead of the server chronyd now follows (faketime's skew, exactly):
    // no synced reading may bound its error by less.
    const uncovered = updates.filter(
      ({ state, boundMs }) => state === 'synced' && !(boundMs! >= JUMP_MS),
    );
    expect(uncovered, JSON.stringify(updates)).toEqual([]);
  });
});
