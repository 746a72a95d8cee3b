import { randomInt } from 'node:crypto';

/**
 * The serial numbers of a log's tokens, each with the entry that carried it first: what log-audit
 * needs to find a serial number used twice (RFC 3161 section 2.4.2: unique for each token of a
 * TSA). A Map<bigint, number> held ~81 bytes an entry on V8's heap and refuses its 16,777,217th
 * key (RangeError "Map maximum size exceeded"), so a log of more entries could not be audited at
 * all. This is an open-addressing table (linear probing) in typed arrays, outside the heap: 28
 * bytes a slot, at most 70 % of its slots used, up to 2^31 slots (~1.5 billion serial numbers).
 *
 * Serial numbers of 0 to 160 bits, the range RFC 3161 asks every client to handle (all a TSA
 * should issue), are kept as five 32-bit words; any other (negative, or longer) goes to a Map.
 */
export class SerialNumberSet {
  /** Word w of the serial number in slot s is words[w][s], least significant word first. */
  private words: Uint32Array[] = [];
  /** The entry index + 1 of the serial number in each slot; 0 marks an empty slot. */
  private entries = new Float64Array(0);
  private mask = 0;
  private used = 0;
  /** A seed of our own: serial numbers chosen to collide in the table cannot be written ahead. */
  private readonly seed = randomInt(2 ** 32 - 1);
  private readonly others = new Map<bigint, number>();
  /** The serial number being looked up, as words (one array, reused). */
  private readonly key = new Uint32Array(WORDS);

  constructor(slots = MIN_SLOTS) {
    this.allocate(slots);
  }

  /** How many serial numbers are held. */
  get size(): number {
    return this.used + this.others.size;
  }

  /** Adds `serial`, first seen in entry `index`; if it was there, the entry it was first in. */
  add(serial: bigint, index: number): number | undefined {
    if (serial < 0n || serial > MAX_WORDS_VALUE) {
      const earlier = this.others.get(serial);
      if (earlier === undefined) this.others.set(serial, index);
      return earlier;
    }
    const { key } = this;
    let rest = serial;
    for (let w = 0; w < WORDS; w++) {
      key[w] = Number(rest & WORD_MASK);
      rest >>= 32n;
    }
    const slot = this.find(key);
    const held = this.entries[slot] as number;
    if (held !== 0) return held - 1;
    if (this.used + 1 > this.mask * MAX_LOAD) {
      this.grow();
      this.put(this.find(key), key, index);
    } else this.put(slot, key, index);
    this.used++;
    return undefined;
  }

  /** The slot holding `key`, or the empty slot where it goes. */
  private find(key: Uint32Array): number {
    const { entries, words, mask } = this;
    for (let slot = this.slotOf(key) & mask; ; slot = (slot + 1) & mask) {
      if (entries[slot] === 0) return slot;
      let w = 0;
      while (w < WORDS && (words[w] as Uint32Array)[slot] === key[w]) w++;
      if (w === WORDS) return slot;
    }
  }

  private put(slot: number, key: Uint32Array, index: number): void {
    for (let w = 0; w < WORDS; w++) (this.words[w] as Uint32Array)[slot] = key[w] as number;
    this.entries[slot] = index + 1;
  }

  /** MurmurHash3's 32-bit mix of the five words, from our seed. */
  private slotOf(key: Uint32Array): number {
    let h = this.seed;
    for (let w = 0; w < WORDS; w++) {
      let k = Math.imul(key[w] as number, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h ^= k;
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
    }
    h ^= WORDS * 4;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private allocate(slots: number): void {
    try {
      this.words = Array.from({ length: WORDS }, () => new Uint32Array(slots));
      this.entries = new Float64Array(slots);
    } catch (error) {
      throw new RangeError(
        `not enough memory to hold the serial numbers of ${this.size} tokens (${slots} slots of 28 bytes)`,
        { cause: error },
      );
    }
    this.mask = slots - 1;
  }

  /** Twice the slots, every serial number put again. */
  private grow(): void {
    const slots = (this.mask + 1) * 2;
    if (slots > MAX_SLOTS)
      throw new RangeError(`more than ${Math.floor(MAX_SLOTS * MAX_LOAD)} serial numbers to hold`);
    const { words, entries } = this;
    this.allocate(slots);
    const key = new Uint32Array(WORDS);
    for (let slot = 0; slot < entries.length; slot++) {
      const held = entries[slot] as number;
      if (held === 0) continue;
      for (let w = 0; w < WORDS; w++) key[w] = (words[w] as Uint32Array)[slot] as number;
      this.put(this.find(key), key, held - 1);
    }
  }
}

/** 160 bits: RFC 3161 section 2.4.2's serial numbers "up to 160 bits". */
const WORDS = 5;
const WORD_MASK = 0xffff_ffffn;
const MAX_WORDS_VALUE = (1n << BigInt(32 * WORDS)) - 1n;
const MAX_LOAD = 0.7;
const MIN_SLOTS = 1024;
/** slotOf's 32 bits index at most 2^32 slots; 2^31 keeps mask a positive int32. */
const MAX_SLOTS = 2 ** 31;
