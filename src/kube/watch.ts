/**
 * The wire format of a Kubernetes watch: one JSON object per line,
 * `{"type": "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR", "object": {...}}`,
 * arriving in chunks that split lines (and UTF-8 characters) anywhere.
 *
 * Hand-written rather than client-node's Watch: see src/kube/access.ts for why
 * the controller does not load client-node at all.
 */
import { StringDecoder } from 'node:string_decoder';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
const TYPES = new Set<string>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

export interface WatchEvent {
  type: WatchEventType;
  /** the object; for ERROR a metav1.Status */
  object: Record<string, unknown>;
}

/** The stream is not a watch stream (bad JSON, unknown event type, a line too long): watch again. */
export class WatchProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchProtocolError';
  }
}

export function parseWatchLine(line: string): WatchEvent {
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch {
    throw new WatchProtocolError(`watch stream: not JSON: ${line.slice(0, 100)}`);
  }
  const e = ev as Partial<WatchEvent> | null;
  if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || !TYPES.has(e.type))
    throw new WatchProtocolError(`watch stream: not a watch event: ${line.slice(0, 100)}`);
  if (typeof e.object !== 'object' || e.object === null || Array.isArray(e.object))
    throw new WatchProtocolError(`watch stream: ${e.type} event without an object`);
  return e as WatchEvent;
}

/** Splits a chunked watch response into events. */
export class WatchLineDecoder {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  /** a line longer than this is not a Kubernetes object (etcd stores at most ~1.5 MB) */
  private readonly maxLineChars: number;

  constructor(maxLineChars = 64 * 2 ** 20) {
    this.maxLineChars = maxLineChars;
  }

  /** The events completed by this chunk; a trailing partial line waits for the next chunk. */
  push(chunk: Buffer | string): WatchEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const events: WatchEvent[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = start === 0 && this.pending ? this.pending + text.slice(0, nl) : text.slice(start, nl);
      if (start === 0) this.pending = '';
      start = nl + 1;
      if (line.trim()) events.push(parseWatchLine(line));
    }
    this.pending += start === 0 ? text : text.slice(start);
    if (this.pending.length > this.maxLineChars)
      throw new WatchProtocolError(`watch stream: line longer than ${this.maxLineChars} characters`);
    return events;
  }

  /** At the end of the stream: the last line if it had no newline; a cut-off line is an error. */
  end(): WatchEvent[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    return rest.trim() ? [parseWatchLine(rest)] : [];
  }
}
