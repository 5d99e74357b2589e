import { Command, CommanderError } from 'commander';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerControllerCommand } from './commands/controller.ts';
import { registerDashboardCommand } from './commands/dashboard.ts';
import { registerIngressCommand } from './commands/ingress.ts';
import { registerPlaygroundCommand } from './commands/playground.ts';
import { registerRolloutCommands } from './commands/rollouts.ts';
import { registerVersionCommand } from './commands/version.ts';
import { UserError } from './errors.ts';

/** Builds the command tree. Each command family lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('kanary')
    .description('Progressive delivery for Kubernetes: Argo Rollouts canaries with an NGINX data plane')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  registerVersionCommand(program);
  registerClusterCommands(program);
  registerControllerCommand(program);
  registerDashboardCommand(program);
  registerIngressCommand(program);
  registerPlaygroundCommand(program);
  registerRolloutCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version output end with a CommanderError that carries exit code 0
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
