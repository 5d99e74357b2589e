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

export function validateImageBehaviours(value: unknown): ImageBehaviours {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('image behaviours must be an object mapping images to {status, delayMs, ready}');
  }
  for (const [key, b] of Object.entries(value)) {
    if (typeof b !== 'object' || b === null)
      throw new Error(`image behaviour for "${key}" must be an object`);
    const { status, delayMs, ready, ...rest } = b as Record<string, unknown>;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length)
      throw new Error(`image behaviour for "${key}": unknown field(s) ${unknownKeys.join(', ')}`);
    if (
      status !== undefined &&
      !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)
    )
      throw new Error(`image behaviour for "${key}": status must be an HTTP status code`);
    if (delayMs !== undefined && !(typeof delayMs === 'number' && delayMs >= 0))
      throw new Error(`image behaviour for "${key}": delayMs must be a non-negative number`);
    if (ready !== undefined && typeof ready !== 'boolean')
      throw new Error(`image behaviour for "${key}": ready must be true or false`);
  }
  return value as ImageBehaviours;
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
