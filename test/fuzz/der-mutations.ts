import fc from 'fast-check';

/**
 * Structure-aware mutations of DER (and, byte-wise, of any input): the fuzzer's mutation engine.
 * A mutation is data (so fast-check can generate, print and shrink it) applied by `applyMutation`.
 */

/** One TLV found by a lenient walk: where its tag, length field and value are. */
export interface TlvSpan {
  start: number;
  lengthStart: number;
  valueStart: number;
  end: number;
  constructed: boolean;
}

/** Every TLV reachable from the start of `input`, outermost first; stops quietly at garbage. */
export function tlvSpans(input: Uint8Array): TlvSpan[] {
  const spans: TlvSpan[] = [];
  const walk = (from: number, to: number, depth: number): void => {
    let offset = from;
    while (offset + 2 <= to && depth < 64) {
      const tag = input[offset] as number;
      const first = input[offset + 1] as number;
      let length = first;
      let valueStart = offset + 2;
      if (first & 0x80) {
        const count = first & 0x7f;
        if (count === 0 || count > 4 || offset + 2 + count > to) return;
        length = 0;
        for (let i = 0; i < count; i++) length = length * 256 + (input[offset + 2 + i] as number);
        valueStart += count;
      }
      const end = valueStart + length;
      if (end > to) return;
      const constructed = (tag & 0x20) !== 0;
      spans.push({ start: offset, lengthStart: offset + 1, valueStart, end, constructed });
      if (constructed) walk(valueStart, end, depth + 1);
      offset = end;
    }
  };
  walk(0, input.length, 0);
  return spans;
}

/** Length fields chosen to hit off-by-ones, sign bugs, non-minimal and huge encodings. */
const LENGTH_FIELDS: readonly number[][] = [
  [0x00],
  [0x7f],
  [0x80], // indefinite
  [0x81, 0x00], // non-minimal
  [0x81, 0x7f], // non-minimal
  [0x81, 0xff],
  [0x82, 0x00, 0x05], // non-minimal
  [0x82, 0xff, 0xff],
  [0x84, 0x7f, 0xff, 0xff, 0xff], // 2^31 - 1
  [0x84, 0x80, 0x00, 0x00, 0x00], // 2^31
  [0x84, 0xff, 0xff, 0xff, 0xff],
  [0x85, 0x01, 0x00, 0x00, 0x00, 0x00],
  [0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xff],
];

/** Universal and context tags the request uses or could be confused with, and a high tag. */
const TAGS = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x10, 0x11, 0x13, 0x17, 0x18, 0x1f, 0x30, 0x31,
  0x80, 0xa0, 0xa1, 0xbf, 0xff,
];
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff];

export type Mutation =
  | { kind: 'flipBit'; at: number; bit: number }
  | { kind: 'setByte'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insertBytes'; at: number; bytes: Uint8Array }
  | { kind: 'deleteRange'; at: number; count: number }
  | { kind: 'rewriteLength'; element: number; field: number; delta: number }
  | { kind: 'rewriteTag'; element: number; tag: number }
  | { kind: 'spliceElement'; element: number; donorElement: number }
  | { kind: 'duplicateElement'; element: number }
  | { kind: 'deleteElement'; element: number }
  | { kind: 'wrapElement'; element: number; tag: number; times: number }
  | { kind: 'appendTrailing'; bytes: Uint8Array };

const position = fc.nat({ max: 0xffff });
const someBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
  fc.constantFrom(...INTERESTING_BYTES).map((byte) => Uint8Array.of(byte)),
);

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flipBit' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({
    kind: fc.constant('setByte' as const),
    at: position,
    value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat({ max: 255 })),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insertBytes' as const), at: position, bytes: someBytes }),
  fc.record({
    kind: fc.constant('deleteRange' as const),
    at: position,
    count: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({
    kind: fc.constant('rewriteLength' as const),
    element: position,
    // field < LENGTH_FIELDS.length picks a fixed field; beyond, the true length plus delta.
    field: fc.nat({ max: LENGTH_FIELDS.length + 4 }),
    delta: fc.integer({ min: -3, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('rewriteTag' as const),
    element: position,
    tag: fc.oneof(fc.constantFrom(...TAGS), fc.nat({ max: 255 })),
  }),
  fc.record({
    kind: fc.constant('spliceElement' as const),
    element: position,
    donorElement: position,
  }),
  fc.record({ kind: fc.constant('duplicateElement' as const), element: position }),
  fc.record({ kind: fc.constant('deleteElement' as const), element: position }),
  fc.record({
    kind: fc.constant('wrapElement' as const),
    element: position,
    tag: fc.constantFrom(0x30, 0x31, 0xa0, 0x04),
    times: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ kind: fc.constant('appendTrailing' as const), bytes: someBytes }),
);

const concat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);

function definiteLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Applies one mutation; `donor` supplies valid parts for splices. */
export function applyMutation(input: Buffer, mutation: Mutation, donor: Buffer): Buffer {
  const n = input.length;
  const spans = mutation.kind === 'flipBit' || mutation.kind === 'setByte' ? [] : tlvSpans(input);
  const pick = (index: number): TlvSpan | undefined => spans[index % Math.max(spans.length, 1)];
  switch (mutation.kind) {
    case 'flipBit': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      out[mutation.at % n] = (out[mutation.at % n] as number) ^ (1 << mutation.bit);
      return out;
    }
    case 'setByte': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      out[mutation.at % n] = mutation.value;
      return out;
    }
    case 'truncate':
      return input.subarray(0, n === 0 ? 0 : mutation.at % n);
    case 'insertBytes': {
      const at = mutation.at % (n + 1);
      return concat(input.subarray(0, at), mutation.bytes, input.subarray(at));
    }
    case 'deleteRange': {
      const at = mutation.at % (n + 1);
      return concat(input.subarray(0, at), input.subarray(at + mutation.count));
    }
    case 'rewriteLength': {
      const span = pick(mutation.element);
      if (!span) return input;
      const field =
        LENGTH_FIELDS[mutation.field] ??
        definiteLength(Math.max(0, span.end - span.valueStart + mutation.delta));
      return concat(
        input.subarray(0, span.lengthStart),
        Uint8Array.from(field),
        input.subarray(span.valueStart),
      );
    }
    case 'rewriteTag': {
      const span = pick(mutation.element);
      if (!span) return input;
      const out = Buffer.from(input);
      out[span.start] = mutation.tag;
      return out;
    }
    case 'spliceElement': {
      const span = pick(mutation.element);
      const donorSpans = tlvSpans(donor);
      const part = donorSpans[mutation.donorElement % Math.max(donorSpans.length, 1)];
      if (!span || !part) return input;
      return concat(
        input.subarray(0, span.start),
        donor.subarray(part.start, part.end),
        input.subarray(span.end),
      );
    }
    case 'duplicateElement': {
      const span = pick(mutation.element);
      if (!span) return input;
      return concat(
        input.subarray(0, span.end),
        input.subarray(span.start, span.end),
        input.subarray(span.end),
      );
    }
    case 'deleteElement': {
      const span = pick(mutation.element);
      if (!span) return input;
      return concat(input.subarray(0, span.start), input.subarray(span.end));
    }
    case 'wrapElement': {
      // Nesting without fixing the outer lengths: deep and inconsistent structure.
      const span = pick(mutation.element);
      if (!span) return input;
      let element: Buffer = input.subarray(span.start, span.end);
      for (let i = 0; i < mutation.times; i++)
        element = concat(Uint8Array.of(mutation.tag), definiteLength(element.length), element);
      return concat(input.subarray(0, span.start), element, input.subarray(span.end));
    }
    case 'appendTrailing':
      return concat(input, mutation.bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Tree mutations: edit the decoded structure and re-encode with consistent lengths, so a change
// deep inside reaches the checks behind the outer length and trailing-byte checks.

interface DerNode {
  tag: number;
  children?: DerNode[];
  value?: Uint8Array;
}

function decodeTree(input: Uint8Array): DerNode[] {
  const decode = (from: number, to: number, depth: number): DerNode[] => {
    const nodes: DerNode[] = [];
    let offset = from;
    while (offset < to) {
      const [span] = tlvSpans(input.subarray(offset, to));
      if (!span) {
        nodes.push({ tag: 0x04, value: input.subarray(offset, to) });
        break;
      }
      const tag = input[offset] as number;
      const valueStart = offset + span.valueStart;
      const end = offset + span.end;
      nodes.push(
        span.constructed && depth < 64
          ? { tag, children: decode(valueStart, end, depth + 1) }
          : { tag, value: input.subarray(valueStart, end) },
      );
      offset = end;
    }
    return nodes;
  };
  return decode(0, input.length, 0);
}

function encodeTree(nodes: readonly DerNode[]): Buffer {
  return Buffer.concat(
    nodes.map((node) => {
      const value = node.children ? encodeTree(node.children) : Buffer.from(node.value ?? []);
      return concat(Uint8Array.of(node.tag), definiteLength(value.length), value);
    }),
  );
}

function preorder(nodes: DerNode[], out: { node: DerNode; siblings: DerNode[] }[] = []) {
  for (const node of nodes) {
    out.push({ node, siblings: nodes });
    if (node.children) preorder(node.children, out);
  }
  return out;
}

export type TreeMutation =
  | { kind: 'nodeTag'; node: number; tag: number }
  | { kind: 'nodeValue'; node: number; mutation: Mutation }
  | { kind: 'nodeDelete'; node: number }
  | { kind: 'nodeDuplicate'; node: number; times: number }
  | { kind: 'nodeGraft'; node: number; donorNode: number; replace: boolean }
  | { kind: 'nodeInsert'; node: number; tag: number; value: Uint8Array };

const byteMutation = fc.oneof(
  fc.record({ kind: fc.constant('flipBit' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('setByte' as const), at: position, value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insertBytes' as const), at: position, bytes: someBytes }),
  fc.record({
    kind: fc.constant('deleteRange' as const),
    at: position,
    count: fc.integer({ min: 1, max: 16 }),
  }),
);

export const treeMutationArbitrary: fc.Arbitrary<TreeMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('nodeTag' as const),
    node: position,
    tag: fc.constantFrom(...TAGS),
  }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('nodeValue' as const),
      node: position,
      mutation: byteMutation,
    }),
  },
  fc.record({ kind: fc.constant('nodeDelete' as const), node: position }),
  fc.record({
    kind: fc.constant('nodeDuplicate' as const),
    node: position,
    times: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('nodeGraft' as const),
    node: position,
    donorNode: position,
    replace: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('nodeInsert' as const),
    node: position,
    tag: fc.constantFrom(...TAGS),
    value: fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(
        Uint8Array.of(0xff),
        Uint8Array.of(0x00),
        Uint8Array.of(0x01),
        Uint8Array.of(0x00, 0x01),
      ),
    ),
  }),
);

function applyTreeMutation(tree: DerNode[], mutation: TreeMutation, donor: DerNode[]): void {
  const nodes = preorder(tree);
  const picked = nodes[mutation.node % Math.max(nodes.length, 1)];
  if (!picked) return;
  const { node, siblings } = picked;
  const index = siblings.indexOf(node);
  switch (mutation.kind) {
    case 'nodeTag':
      node.tag = mutation.tag;
      return;
    case 'nodeValue': {
      const bytes = node.children ? encodeTree(node.children) : Buffer.from(node.value ?? []);
      delete node.children;
      node.value = applyMutation(bytes, mutation.mutation, bytes);
      return;
    }
    case 'nodeDelete':
      siblings.splice(index, 1);
      return;
    case 'nodeDuplicate':
      for (let i = 0; i < mutation.times; i++) siblings.splice(index, 0, structuredClone(node));
      return;
    case 'nodeGraft': {
      const donorNodes = preorder(donor);
      const graft = donorNodes[mutation.donorNode % Math.max(donorNodes.length, 1)]?.node;
      if (graft) siblings.splice(index, mutation.replace ? 1 : 0, structuredClone(graft));
      return;
    }
    case 'nodeInsert':
      siblings.splice(index, 0, { tag: mutation.tag, value: mutation.value });
      return;
  }
}

/**
 * What the fuzzer does to one input: one to five stacked raw mutations, or one to four tree edits
 * (lengths kept consistent) perhaps followed by one raw mutation. A donor input supplies splices.
 */
export type MutationPlan =
  | { kind: 'raw'; mutations: Mutation[] }
  | { kind: 'tree'; mutations: TreeMutation[]; raw: Mutation | null };

export const mutationPlanArbitrary: fc.Arbitrary<MutationPlan> = fc.oneof(
  fc.record({
    kind: fc.constant('raw' as const),
    mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    kind: fc.constant('tree' as const),
    mutations: fc.array(treeMutationArbitrary, { minLength: 1, maxLength: 4 }),
    raw: fc.option(mutationArbitrary, { freq: 4 }),
  }),
);

export function applyMutationPlan(input: Buffer, plan: MutationPlan, donor: Buffer): Buffer {
  if (plan.kind === 'raw') {
    return plan.mutations.reduce(
      (current, mutation) => applyMutation(current, mutation, donor),
      input,
    );
  }
  const tree = decodeTree(input);
  const donorTree = decodeTree(donor);
  for (const mutation of plan.mutations) applyTreeMutation(tree, mutation, donorTree);
  const encoded = encodeTree(tree);
  return plan.raw ? applyMutation(encoded, plan.raw, donor) : encoded;
}

/** The fuzzer's DER inputs: seeds under a mutation plan, spliced with parts of another seed. */
export function mutatedInput(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.constantFrom(...seeds), mutationPlanArbitrary)
    .map(([seed, donor, plan]) => applyMutationPlan(seed, plan, donor));
}
