/** Per-image behaviour of emulated containers (see images.ts). */
export interface ImageBehaviour {
  /** HTTP status every request gets (default 200) */
  status?: number;
  /** added latency per request, in milliseconds */
  delayMs?: number;
  /** when false the pod is never marked Ready (like a failing readiness probe) */
  ready?: boolean;
  /** fraction of requests (0..1, drawn independently per request) answered with HTTP 500 */
  errorRate?: number;
  /**
   * added latency per request drawn from a log-normal distribution with this median and 99th
   * percentile, in milliseconds (added to `delayMs`)
   */
  latency?: { medianMs: number; p99Ms: number };
  /** the container runs to completion and exits with this code (a Job's pod, a batch container) */
  exitCode?: number;
  /** how long a container that runs to completion runs, in milliseconds */
  runMs?: number;
}

export interface ServedPod {
  pod: string;
  namespace: string;
  node: string;
  container: string;
  image: string;
  version: string;
  ip: string;
  ports: number[];
  behaviour?: ImageBehaviour;
}

export type PodServerRequest =
  | { op: 'start'; key: string; containers: ServedPod[] }
  | { op: 'stop'; key: string; lingerMs?: number };

export interface PodServerReply {
  key: string;
  ok: boolean;
  error?: string;
}

/**
 * What an emulated container can tell about the requests it received (its own
 * endpoint, like an app's metrics): `GET /.kanary/received` answers the number
 * of other requests, by the value of their `x-kanary-tag` header (`""` for
 * none). Tests count with it what reached a pod without answering the client:
 * mirrored copies.
 */
export const RECEIVED_PATH = '/.kanary/received';
