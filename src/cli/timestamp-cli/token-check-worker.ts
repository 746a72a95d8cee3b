/**
 * A worker thread of log-audit's token checks (token-check-pool.ts): answers each batch of
 * entries with their outcomes (token-check.ts), one batch at a time, in the order they came.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkBatch, TokenCheck, type CheckBatch, type CheckWorkerData } from './token-check.js';

const { chain } = workerData as CheckWorkerData;
const check = new TokenCheck(chain);
const port = parentPort!;
let queue = Promise.resolve();
port.on('message', (batch: CheckBatch) => {
  // checkBatch catches what a check throws: an error here is the worker's own, and ends it.
  queue = queue.then(async () => port.postMessage(await checkBatch(check, batch)));
});
