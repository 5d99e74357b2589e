/**
 * The rollout commands: the ones that change a Rollout (promote, abort, retry,
 * pause, restart, undo, set image) live here; get/list, status, lint and
 * completion have their own files and are registered from here too, so
 * main.ts needs one line for the whole family.
 */
import type { Command } from 'commander';
import { promote, RevisionRestoreError, setImage, simpleAction, undo } from '../../client/actions.ts';
import { parseDuration } from '../../client/format.ts';
import { PlanError, type PromoteMode, parseImageAssignment } from '../../client/patches.ts';
import { UserError } from '../errors.ts';
import { addKubeFlags, connect, type KubeFlags } from '../kube-flags.ts';
import { registerCompletionCommands } from './completion.ts';
import { registerGetCommands, registerListCommands } from './get.ts';
import { registerLintCommand } from './lint.ts';
import { registerStatusCommand } from './status.ts';

export function registerRolloutCommands(program: Command): void {
  registerGetCommands(program);
  registerListCommands(program);
  registerPromote(program);
  registerSimple(program, 'abort', 'abort a rollout: traffic back to stable, canary scaled down', 'aborted');
  registerSimple(program, 'pause', 'pause a rollout (spec.paused); resume with `promote`', 'paused');
  registerRetry(program);
  registerRestart(program);
  registerUndo(program);
  registerSetImage(program);
  registerStatusCommand(program);
  registerLintCommand(program);
  registerCompletionCommands(program);
}

function planned<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof PlanError) throw new UserError(err.message);
    if (err instanceof RevisionRestoreError) {
      if (err.cause instanceof UserError)
        throw new UserError(`failed restoring revision ${err.revision}: ${err.cause.message}`, {
          hint: err.cause.hint,
        });
      throw err.cause;
    }
    throw err;
  });
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
      await planned(() => promote(cluster, name, mode));
      process.stdout.write(`rollout '${name}' ${o.full ? 'fully promoted' : 'promoted'}\n`);
    },
  );
}

function registerSimple(program: Command, verb: 'abort' | 'pause', description: string, done: string) {
  addKubeFlags(
    program.command(verb).description(description).argument('<rollout>', 'name of the Rollout'),
  ).action(async (name: string, o: KubeFlags) => {
    const cluster = await connect(o);
    await planned(() => simpleAction(cluster, name, verb));
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
    await planned(() => simpleAction(cluster, name, 'retry'));
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
    await planned(() => simpleAction(cluster, name, 'restart', { now: Date.now(), delayMs: delay }));
    process.stdout.write(`rollout '${name}' restarts in ${o.in ?? '0s'}\n`);
  });
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
    const result = await planned(() => undo(cluster, name, toRevision));
    if (result.kind === 'skipped') {
      process.stdout.write(
        `skipped rollback (current template already matches revision ${result.revision})\n`,
      );
      return;
    }
    process.stdout.write(`rollout '${name}' undo\n`);
  });
}

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
    const updated = await planned(() => setImage(cluster, name, parsed.container, parsed.image));
    process.stdout.write(`${updated.kind} "${updated.name}" image updated\n`);
  });
}
