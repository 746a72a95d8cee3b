/** The transparency-log library: a port of Go's sumdb/tlog and sumdb/note in C2SP formats. */
export * from './checkpoint.js';
export * from './errors.js';
export * from './hash.js';
export * from './latest-tiles.js';
export * from './memory.js';
export * from './note.js';
export * from './proof.js';
export * from './tile.js';
export * from './tile-hasher.js';
export * from './tlog-proof.js';
