import { styleText } from 'node:util';

/** Status icons, the same glyphs `kubectl argo rollouts` prints so screenshots and muscle memory carry over. */
export const Icon = {
  waiting: '◷',
  progressing: '◌',
  warning: '⚠',
  unknown: '?',
  ok: '✔',
  bad: '✖',
  paused: '॥',
  neutral: '•',
} as const;

/** Tree icons, one per kind. */
export const KindIcon = {
  rollout: '⟳',
  revision: '#',
  replicaSet: '⧉',
  pod: '□',
  job: '⊞',
  experiment: 'Σ',
  analysisRun: 'α',
} as const;

/** Tags shown next to images and ReplicaSets. */
export const Tag = {
  canary: 'canary',
  stable: 'stable',
  active: 'active',
  preview: 'preview',
  ping: 'ping',
  pong: 'pong',
} as const;

type Colour = Parameters<typeof styleText>[0];

// Icons and tags that carry meaning get a colour; paused and neutral stay in the
// terminal's foreground colour, which reads better than white on light themes.
const colours: Record<string, Colour> = {
  [Icon.waiting]: 'yellow',
  [Icon.progressing]: 'blueBright',
  [Icon.warning]: 'red',
  [Icon.unknown]: 'yellow',
  [Icon.ok]: 'green',
  [Icon.bad]: 'red',
  [Tag.canary]: 'yellow',
  [Tag.stable]: 'green',
  [Tag.active]: 'green',
  [Tag.preview]: 'blueBright',
  [Tag.ping]: 'blueBright',
  [Tag.pong]: 'blueBright',
  Pending: 'blueBright',
  Running: 'blueBright',
};

/** Colours `text` by the colour associated with `key` (an icon, a tag or a phase); plain when `enabled` is false. */
export function paint(text: string, key: string, enabled: boolean): string {
  const colour = colours[key];
  if (!enabled || !colour) return text;
  return styleText(colour, text, { validateStream: false });
}

/**
 * Whether to colour output on `stream`: never with --no-color, NO_COLOR or
 * TERM=dumb; always with FORCE_COLOR (other than 0); otherwise only on a terminal,
 * so pipes and CI logs stay free of escape codes.
 */
export function colourEnabled(
  stream: { isTTY?: boolean },
  opts: { noColor?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (opts.noColor) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return stream.isTTY === true;
}
