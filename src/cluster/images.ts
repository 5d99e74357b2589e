import type { ImageBehaviour, ServedPod } from './podserver-protocol.ts';

/**
 * The version an emulated container reports: the image tag ("repo/app:0.0.2" →
 * "0.0.2"), the digest when pinned by digest, "latest" when untagged.
 */
export function imageVersion(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1); // a colon before the last slash is a registry port
  return colon >= 0 ? image.slice(colon + 1) : 'latest';
}

/**
 * Mapping from image to behaviour. Keys are exact images ("repo/app:0.0.3") or
 * prefixes ending in "*" ("repo/app:*"); the longest matching key wins.
 */
export type ImageBehaviours = Record<string, ImageBehaviour>;

export function behaviourFor(image: string, map: ImageBehaviours): ImageBehaviour | undefined {
  let best: { len: number; b: ImageBehaviour } | undefined;
  for (const [key, b] of Object.entries(map)) {
    const matches = key.endsWith('*') ? image.startsWith(key.slice(0, -1)) : image === key;
    if (matches && (!best || key.length > best.len)) best = { len: key.length, b };
  }
  return best?.b;
}

/** The behaviour fields this runtime understands (served on the runtime's `/behaviours`). */
export const BEHAVIOUR_FIELDS = [
  'status',
  'delayMs',
  'ready',
  'errorRate',
  'latency',
  'exitCode',
  'runMs',
] as const;

const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export function validateImageBehaviours(value: unknown): ImageBehaviours {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`image behaviours must be an object mapping images to {${BEHAVIOUR_FIELDS.join(', ')}}`);
  }
  for (const [key, b] of Object.entries(value)) {
    if (typeof b !== 'object' || b === null)
      throw new Error(`image behaviour for "${key}" must be an object`);
    const { status, delayMs, ready, errorRate, latency, exitCode, runMs, ...rest } = b as Record<
      string,
      unknown
    >;
    const fail = (msg: string) => new Error(`image behaviour for "${key}": ${msg}`);
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length) throw fail(`unknown field(s) ${unknownKeys.join(', ')}`);
    if (
      status !== undefined &&
      !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)
    )
      throw fail('status must be an HTTP status code');
    if (delayMs !== undefined && !isNonNegative(delayMs)) throw fail('delayMs must be a non-negative number');
    if (ready !== undefined && typeof ready !== 'boolean') throw fail('ready must be true or false');
    if (errorRate !== undefined && !(isNonNegative(errorRate) && errorRate <= 1))
      throw fail('errorRate must be a number from 0 to 1');
    if (latency !== undefined) {
      const l = latency as Record<string, unknown>;
      const extra =
        typeof l === 'object' && l !== null
          ? Object.keys(l).filter((k) => k !== 'medianMs' && k !== 'p99Ms')
          : [];
      if (
        typeof l !== 'object' ||
        l === null ||
        extra.length ||
        !(isNonNegative(l.medianMs) && l.medianMs > 0) ||
        !(isNonNegative(l.p99Ms) && l.p99Ms >= l.medianMs)
      )
        throw fail('latency must be {medianMs, p99Ms} with 0 < medianMs <= p99Ms');
    }
    if (
      exitCode !== undefined &&
      !(Number.isInteger(exitCode) && (exitCode as number) >= 0 && (exitCode as number) <= 255)
    )
      throw fail('exitCode must be an integer from 0 to 255');
    if (runMs !== undefined && !isNonNegative(runMs)) throw fail('runMs must be a non-negative number');
  }
  return value as ImageBehaviours;
}

/** z-score of the 99th percentile of the standard normal distribution */
const Z99 = 2.3263478740408408;
/** no emulated request waits longer than this, whatever the distribution draws */
export const MAX_LATENCY_MS = 60_000;

/**
 * One draw of a log-normal latency: ln(latency) is normal with mean ln(median) and the
 * standard deviation that puts the 99th percentile at p99 (σ = ln(p99/median) / z₀.₉₉).
 * `rand` is uniform in [0, 1) (Math.random); capped at MAX_LATENCY_MS.
 */
export function sampleLatencyMs(l: { medianMs: number; p99Ms: number }, rand: () => number): number {
  if (!(l.p99Ms > l.medianMs)) return Math.min(l.medianMs, MAX_LATENCY_MS);
  const sigma = Math.log(l.p99Ms / l.medianMs) / Z99;
  // Box-Muller: two uniforms give one standard normal draw (1 - u keeps the log finite)
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.min(l.medianMs * Math.exp(sigma * z), MAX_LATENCY_MS);
}

/** How an emulated container answers one request: its status and how long it waits first. */
export function responseFor(
  b: ImageBehaviour | undefined,
  rand: () => number,
): { status: number; delayMs: number } {
  const failed = b?.errorRate !== undefined && b.errorRate > 0 && rand() < b.errorRate;
  const status = failed ? 500 : (b?.status ?? 200);
  const delayMs = (b?.delayMs ?? 0) + (b?.latency ? sampleLatencyMs(b.latency, rand) : 0);
  return { status, delayMs };
}

interface PodLike {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    nodeName?: string;
    containers?: { name: string; image?: string; ports?: { containerPort: number; protocol?: string }[] }[];
  };
  status?: { podIP?: string };
}

/** What to serve for a pod: each container on its TCP ports; port 80 on the first container if none declares any. */
export function servedContainers(pod: PodLike, map: ImageBehaviours): ServedPod[] {
  const containers = pod.spec?.containers ?? [];
  const ip = pod.status?.podIP ?? '';
  const out = containers.map((c) => {
    const image = c.image ?? '';
    const behaviour = behaviourFor(image, map);
    return {
      pod: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      node: pod.spec?.nodeName ?? '',
      container: c.name,
      image,
      version: imageVersion(image),
      ip,
      ports: [
        ...new Set(
          (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort),
        ),
      ],
      ...(behaviour ? { behaviour } : {}),
    };
  });
  const first = out[0];
  if (first && out.every((c) => c.ports.length === 0)) first.ports = [80];
  return out.filter((c) => c.ports.length > 0);
}
