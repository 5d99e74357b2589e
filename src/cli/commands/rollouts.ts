/**
 * The rollout commands: the ones that change a Rollout (promote, abort, retry,
 * pause, restart, undo, set image) live here; get/list, status, lint and
 * completion have their own files and are registered from here too, so
 * main.ts needs one line for the whole family.
 */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import type { Cluster } from '../kube.ts';
import { addKubeFlags, connect, type KubeFlags, ROLLOUTS, WORKLOADS } from '../kube-flags.ts';
import { parseDuration } from '../render/format.ts';
import type { PodTemplateSpec, Rollout } from '../render/types.ts';
import { registerCompletionCommands } from './completion.ts';
import { registerGetCommands, registerListCommands } from './get.ts';
import { registerLintCommand } from './lint.ts';
import {
  abortPlan,
  type PatchPlan,
  PlanError,
  type PromoteMode,
  parseImageAssignment,
  pausePlan,
  promotePlan,
  restartPlan,
  retryPlan,
  undoPlan,
  withImage,
} from './rollout-patches.ts';
import { registerStatusCommand } from './status.ts';

export function registerRolloutCommands(program: Command): void {
  registerGetCommands(program);
  registerListCommands(program);
  registerPromote(program);
  registerSimple(
    program,
    'abort',
    'abort a rollout: traffic back to stable, canary scaled down',
    abortPlan,
    'aborted',
  );
  registerSimple(
    program,
    'pause',
    'pause a rollout (spec.paused); resume with `promote`',
    pausePlan,
    'paused',
  );
  registerRetry(program);
  registerRestart(program);
  registerUndo(program);
  registerSetImage(program);
  registerStatusCommand(program);
  registerLintCommand(program);
  registerCompletionCommands(program);
}

/** Runs a plan on a Rollout: status subresource first, main resource after, upstream's fallback on 404. */
export async function applyPlan(cluster: Cluster, name: string, plan: PatchPlan): Promise<void> {
  let main = plan.main;
  if (plan.status) {
    const patched = await cluster.patchRolloutStatus(name, plan.status);
    if (!patched) main = plan.unified;
  }
  if (main) await cluster.patchRollout(name, main);
}

function planned<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PlanError) throw new UserError(err.message);
    throw err;
  }
}

type Opts<T> = T & KubeFlags;

function registerPromote(program: Command): void {
  addKubeFlags(
    program
      .command('promote')
      .description(
        'promote a rollout: leave a pause step (or a blue-green pause, or a manual pause), or skip the running step; ' +
          '--full skips every remaining step, pause and analysis',
      )
      .argument('<rollout>', 'name of the Rollout')
      .option('--full', 'fully promote: skip all remaining steps, pauses and analysis')
      .option('-c, --skip-current-step', 'deprecated: same as promote without a flag')
      .option('-a, --skip-all-steps', 'deprecated: use --full'),
  ).action(
    async (name: string, o: Opts<{ full?: boolean; skipCurrentStep?: boolean; skipAllSteps?: boolean }>) => {
      if (o.skipCurrentStep && o.skipAllSteps) {
        throw new UserError('Cannot use skip-current-step and skip-all-steps flags at the same time');
      }
      const mode: PromoteMode = o.skipCurrentStep
        ? 'skip-current-step'
        : o.skipAllSteps
          ? 'skip-all-steps'
          : o.full
            ? 'full'
            : 'step';
      const cluster = await connect(o);
      const ro = await cluster.getRollout(name);
      await applyPlan(
        cluster,
        name,
        planned(() => promotePlan(ro, mode)),
      );
      process.stdout.write(`rollout '${name}' ${o.full ? 'fully promoted' : 'promoted'}\n`);
    },
  );
}

function registerSimple(
  program: Command,
  verb: string,
  description: string,
  plan: () => PatchPlan,
  done: string,
) {
  addKubeFlags(
    program.command(verb).description(description).argument('<rollout>', 'name of the Rollout'),
  ).action(async (name: string, o: KubeFlags) => {
    const cluster = await connect(o);
    await cluster.getRollout(name);
    await applyPlan(cluster, name, plan());
    process.stdout.write(`rollout '${name}' ${done}\n`);
  });
}

function registerRetry(program: Command): void {
  const retry = program.command('retry').description('retry an aborted rollout');
  addKubeFlags(
    retry
      .command('rollout')
      .aliases(['ro', 'rollouts'])
      .description('retry an aborted rollout from its first step')
      .argument('<rollout>', 'name of the Rollout'),
  ).action(async (name: string, o: KubeFlags) => {
    const cluster = await connect(o);
    await cluster.getRollout(name);
    await applyPlan(cluster, name, retryPlan());
    process.stdout.write(`rollout '${name}' retried\n`);
  });
}

function registerRestart(program: Command): void {
  addKubeFlags(
    program
      .command('restart')
      .description(
        "restart a rollout's pods (spec.restartAt); the controller replaces pods older than that time",
      )
      .argument('<rollout>', 'name of the Rollout')
      .option('-i, --in <duration>', 'restart after this delay, e.g. 30s, 5m, 1h'),
  ).action(async (name: string, o: Opts<{ in?: string }>) => {
    const delay = o.in === undefined ? 0 : parseDuration(o.in);
    if (delay === undefined) {
      throw new UserError(`invalid --in "${o.in}": use a duration like 30s, 5m or 1h`);
    }
    const cluster = await connect(o);
    await cluster.getRollout(name);
    await applyPlan(cluster, name, restartPlan(Date.now(), delay));
    process.stdout.write(`rollout '${name}' restarts in ${o.in ?? '0s'}\n`);
  });
}

/** Where a workload keeps its pod template, for undo's JSON patch. */
function templatePathOf(kind: string): string {
  return kind === 'PodTemplate' ? '/template' : '/spec/template';
}

function registerUndo(program: Command): void {
  addKubeFlags(
    program
      .command('undo')
      .description("roll back to the previous revision's pod template (or --to-revision N)")
      .argument('<rollout>', 'name of the Rollout')
      .option('--to-revision <n>', 'revision to roll back to; 0 means the previous one', '0'),
  ).action(async (name: string, o: Opts<{ toRevision: string }>) => {
    if (!/^\d+$/.test(o.toRevision)) {
      throw new UserError(`invalid --to-revision "${o.toRevision}": use a revision number (0 = previous)`);
    }
    const toRevision = Number(o.toRevision);
    const cluster = await connect(o);
    const ro = await cluster.getRollout(name);
    const replicaSets = await cluster.listReplicaSets();
    const ref = ro.spec?.workloadRef;
    let current: PodTemplateSpec | undefined = ro.spec?.template;
    let workload: { kind: string; name: string } | undefined;
    if (ref?.name) {
      const kind = ref.kind ?? '';
      const resource = WORKLOADS[kind];
      if (!resource) throw new UserError(`workload of type ${kind} is not supported`);
      const obj = await cluster.get<{ spec?: { template?: PodTemplateSpec }; template?: PodTemplateSpec }>(
        resource,
        ref.name,
      );
      current = kind === 'PodTemplate' ? obj.template : obj.spec?.template;
      workload = { kind, name: ref.name };
    }
    const plan = planned(() =>
      undoPlan(ro, current, replicaSets, toRevision, templatePathOf(workload?.kind ?? 'Rollout')),
    );
    if (plan.kind === 'skip') {
      process.stdout.write(`skipped rollback (current template already matches revision ${plan.revision})\n`);
      return;
    }
    try {
      if (workload) await cluster.jsonPatch(WORKLOADS[workload.kind] ?? ROLLOUTS, workload.name, plan.ops);
      else await cluster.jsonPatch(ROLLOUTS, name, plan.ops);
    } catch (err) {
      if (err instanceof UserError)
        throw new UserError(`failed restoring revision ${plan.revision}: ${err.message}`, { hint: err.hint });
      throw err;
    }
    process.stdout.write(`rollout '${name}' undo\n`);
  });
}

const SET_IMAGE_ATTEMPTS = 5;

function registerSetImage(program: Command): void {
  const set = program.command('set').description('update fields of a rollout');
  addKubeFlags(
    set
      .command('image')
      .description('set the image of a container (`*` for all containers); a new revision starts')
      .argument('<rollout>', 'name of the Rollout')
      .argument('<container=image>', 'container name and new image, e.g. web=nginx:1.27'),
  ).action(async (name: string, assignment: string, o: KubeFlags) => {
    const parsed = parseImageAssignment(assignment);
    if (!parsed) {
      throw new UserError(`expected CONTAINER=IMAGE, got "${assignment}"`, {
        hint: 'for example: kanary set image my-rollout web=nginx:1.27',
      });
    }
    const cluster = await connect(o);
    // read-modify-write with the resourceVersion, retried when someone else wrote in between
    for (let attempt = 1; ; attempt++) {
      try {
        const ro = await cluster.getRollout(name);
        const ref = ro.spec?.workloadRef;
        let kind = 'rollout';
        if (ref?.name) {
          const deployments = WORKLOADS.Deployment;
          if (!deployments) throw new Error('unreachable: Deployment resource missing');
          const deploy = await cluster.get<{
            metadata: { name?: string };
            spec?: { template?: PodTemplateSpec };
          }>(deployments, ref.name);
          await cluster.replace(
            deployments,
            planned(() => withImage(deploy, parsed.container, parsed.image)),
          );
          kind = 'deployment';
          process.stdout.write(`${kind} "${ref.name}" image updated\n`);
          return;
        }
        await cluster.replace<Rollout>(
          ROLLOUTS,
          planned(() => withImage(ro, parsed.container, parsed.image)),
        );
        process.stdout.write(`${kind} "${name}" image updated\n`);
        return;
      } catch (err) {
        const conflict = err instanceof UserError && err.message.startsWith('conflict');
        if (!conflict || attempt >= SET_IMAGE_ATTEMPTS) throw err;
      }
    }
  });
}
