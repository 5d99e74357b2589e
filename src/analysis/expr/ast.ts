/** The syntax tree the parser builds and the interpreter walks. `at` is a code point offset. */
import type { Value } from './values.ts';

export type Node =
  | { k: 'literal'; at: number; value: Value }
  | { k: 'name'; at: number; name: string }
  /** `#`, `#index` or `#name` inside a predicate: the current element, its index, a let name. */
  | { k: 'pointer'; at: number; name: string }
  | { k: 'unary'; at: number; op: string; x: Node }
  | { k: 'binary'; at: number; op: string; l: Node; r: Node }
  | { k: 'member'; at: number; obj: Node; prop: Node; optional: boolean }
  /** Wraps a chain containing `?.`: a nil before any `?.` makes the whole chain nil. */
  | { k: 'chain'; at: number; x: Node }
  | { k: 'slice'; at: number; obj: Node; from?: Node; to?: Node }
  | { k: 'call'; at: number; name: string; args: Node[] }
  /** all, any, map, filter, ... with their element predicate (evaluated once per element). */
  | { k: 'predicate'; at: number; name: string; array: Node; fn?: Node; fnAt: number }
  | { k: 'conditional'; at: number; cond: Node; then: Node; else: Node }
  | { k: 'array'; at: number; items: Node[] }
  | { k: 'map'; at: number; pairs: [Node, Node][] }
  | { k: 'let'; at: number; name: string; value: Node; body: Node }
  | { k: 'sequence'; at: number; items: Node[] };
