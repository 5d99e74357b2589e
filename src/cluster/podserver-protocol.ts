/** Per-image behaviour of emulated containers (see images.ts). */
export interface ImageBehaviour {
  /** HTTP status every request gets (default 200) */
  status?: number;
  /** added latency per request, in milliseconds */
  delayMs?: number;
  /** when false the pod is never marked Ready (like a failing readiness probe) */
  ready?: boolean;
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
