/**
 * Text of `kanary get rollout`: a summary block, then the tree of revisions →
 * ReplicaSets / Experiments / AnalysisRuns → Pods / Jobs, laid out like
 * `kubectl argo rollouts get rollout` so both read the same.
 */
import { age, alignColumns } from '../../client/format.ts';
import { Icon, KindIcon, paint, Tag } from '../../client/icons.ts';
import {
  type AnalysisRunInfo,
  type ExperimentInfo,
  type ImageInfo,
  type ReplicaSetInfo,
  type RolloutInfo,
  revisions,
  scaleDownDelay,
} from '../../client/rollout-info.ts';

export interface RenderOptions {
  /** epoch milliseconds that ages are measured against */
  now: number;
  colour: boolean;
}

const LABEL_WIDTH = 17;

function field(label: string, value: string | number): string {
  return `${label.padEnd(LABEL_WIDTH)}${value}`.trimEnd();
}

function formatImage(image: ImageInfo, colour: boolean): string {
  if (image.tags.length === 0) return image.image;
  return `${image.image} (${image.tags.map((t) => paint(t, t, colour)).join(', ')})`;
}

export function renderRolloutSummary(info: RolloutInfo, opts: RenderOptions): string {
  const lines = [
    field('Name:', info.name),
    field('Namespace:', info.namespace),
    field('Status:', `${paint(info.icon, info.icon, opts.colour)} ${info.status}`),
  ];
  if (info.message) lines.push(field('Message:', info.message));
  lines.push(field('Strategy:', info.strategy));
  if (info.strategy === 'Canary') {
    lines.push(field('  Step:', info.step), field('  SetWeight:', info.setWeight));
    lines.push(field('  ActualWeight:', info.actualWeight));
  }
  info.images.forEach((image, i) => {
    lines.push(field(i === 0 ? 'Images:' : '', formatImage(image, opts.colour)));
  });
  const r = info.replicas;
  lines.push('Replicas:');
  lines.push(field('  Desired:', r.desired), field('  Current:', r.current), field('  Updated:', r.updated));
  lines.push(field('  Ready:', r.ready), field('  Available:', r.available));
  return `${lines.join('\n')}\n`;
}

type Row = [name: string, kind: string, status: string, age: string, info: string];

/** Tree branch glyphs for a child: its own prefix, and the prefix its children continue with. */
function branch(isLast: boolean, parentPrefix: string): [string, string] {
  return isLast ? [`${parentPrefix}└──`, `${parentPrefix}   `] : [`${parentPrefix}├──`, `${parentPrefix}│  `];
}

class TreeBuilder {
  readonly rows: Row[] = [['NAME', 'KIND', 'STATUS', 'AGE', 'INFO']];
  private readonly opts: RenderOptions;
  constructor(opts: RenderOptions) {
    this.opts = opts;
  }

  private status(icon: string, status: string): string {
    return `${paint(icon, icon, this.opts.colour)} ${status}`;
  }

  private age(created: string | undefined): string {
    return age(created, this.opts.now);
  }

  rollout(info: RolloutInfo): void {
    this.rows.push([
      `${KindIcon.rollout} ${info.name}`,
      'Rollout',
      this.status(info.icon, info.status),
      this.age(info.created),
      '',
    ]);
    const revs = revisions(info);
    revs.forEach((rev, i) => {
      const [prefix, childPrefix] = branch(i === revs.length - 1, '');
      this.revision(info, rev, prefix, childPrefix);
    });
  }

  private revision(info: RolloutInfo, rev: number, prefix: string, childPrefix: string): void {
    this.rows.push([`${prefix}${KindIcon.revision} revision:${rev}`, '', '', '', '']);
    const children: ((p: string, c: string) => void)[] = [
      ...info.replicaSets
        .filter((x) => x.revision === rev)
        .map((rs) => (p: string, c: string) => this.replicaSet(rs, p, c)),
      ...info.experiments
        .filter((x) => x.revision === rev)
        .map((e) => (p: string, c: string) => this.experiment(e, p, c)),
      ...info.analysisRuns
        .filter((x) => x.revision === rev)
        .map((a) => (p: string, c: string) => this.analysisRun(a, p, c)),
    ];
    children.forEach((print, i) => {
      print(...branch(i === children.length - 1, childPrefix));
    });
  }

  replicaSet(rs: ReplicaSetInfo, prefix: string, childPrefix: string): void {
    const { colour } = this.opts;
    const tags: string[] = [];
    let name = rs.name;
    const tag = (t: string) => {
      tags.push(paint(t, t, colour));
      name = paint(rs.name, t, colour);
    };
    if (rs.stable) tag(Tag.stable);
    if (rs.canary) tag(Tag.canary);
    else if (rs.active) tag(Tag.active);
    else if (rs.preview) tag(Tag.preview);
    if (rs.ping) tag(Tag.ping);
    if (rs.pong) tag(Tag.pong);
    if (rs.scaleDownDeadline) tags.push(`delay:${scaleDownDelay(rs.scaleDownDeadline, this.opts.now)}`);
    this.rows.push([
      `${prefix}${KindIcon.replicaSet} ${name}`,
      'ReplicaSet',
      this.status(rs.icon, rs.status),
      this.age(rs.created),
      tags.join(','),
    ]);
    rs.pods.forEach((pod, i) => {
      const [podPrefix] = branch(i === rs.pods.length - 1, childPrefix);
      const podInfo = [`ready:${pod.ready}`];
      if (pod.restarts > 0) podInfo.push(`restarts:${pod.restarts}`);
      this.rows.push([
        `${podPrefix}${KindIcon.pod} ${pod.name}`,
        'Pod',
        this.status(pod.icon, pod.status),
        this.age(pod.created),
        podInfo.join(','),
      ]);
    });
  }

  experiment(exp: ExperimentInfo, prefix: string, childPrefix: string): void {
    this.rows.push([
      `${prefix}${KindIcon.experiment} ${paint(exp.name, exp.status, this.opts.colour)}`,
      'Experiment',
      this.status(exp.icon, exp.status),
      this.age(exp.created),
      '',
    ]);
    const total = exp.replicaSets.length + exp.analysisRuns.length;
    exp.replicaSets.forEach((rs, i) => {
      this.replicaSet(rs, ...branch(i === total - 1, childPrefix));
    });
    exp.analysisRuns.forEach((run, i) => {
      this.analysisRun(run, ...branch(exp.replicaSets.length + i === total - 1, childPrefix));
    });
  }

  analysisRun(run: AnalysisRunInfo, prefix: string, childPrefix: string): void {
    const { colour } = this.opts;
    const counts: string[] = [];
    if (run.successful > 0) counts.push(`${paint(Icon.ok, Icon.ok, colour)} ${run.successful}`);
    if (run.failed > 0) counts.push(`${paint(Icon.bad, Icon.bad, colour)} ${run.failed}`);
    if (run.inconclusive > 0) counts.push(`${paint(Icon.unknown, Icon.unknown, colour)} ${run.inconclusive}`);
    if (run.error > 0) counts.push(`${paint(Icon.warning, Icon.warning, colour)} ${run.error}`);
    this.rows.push([
      `${prefix}${KindIcon.analysisRun} ${paint(run.name, run.status, colour)}`,
      'AnalysisRun',
      this.status(run.icon, run.status),
      this.age(run.created),
      counts.join(','),
    ]);
    run.jobs.forEach((job, i) => {
      const [jobPrefix] = branch(i === run.jobs.length - 1, childPrefix);
      this.rows.push([
        `${jobPrefix}${KindIcon.job} ${paint(job.name, job.status, colour)}`,
        'Job',
        this.status(job.icon, job.status),
        this.age(job.created),
        '',
      ]);
    });
  }
}

export function renderRolloutTree(info: RolloutInfo, opts: RenderOptions): string {
  const tree = new TreeBuilder(opts);
  tree.rollout(info);
  return alignColumns(tree.rows);
}

/** The whole `get rollout` screen: summary, blank line, tree. */
export function renderRollout(info: RolloutInfo, opts: RenderOptions): string {
  return `${renderRolloutSummary(info, opts)}\n${renderRolloutTree(info, opts)}`;
}
