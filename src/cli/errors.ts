import { KubeConfigError } from '../kube/errors.ts';

/**
 * An error the user can act on: printed as one line (plus an optional hint)
 * without a stack trace. Anything else reaching the top level is a bug and is
 * printed with its stack.
 *
 * The kube library cannot import this class (it imports no command code), so
 * it throws its own KubeConfigError, which has the same shape. `instanceof
 * UserError` answers true for it too, so every place that prints, passes on
 * or exit-codes a UserError (main.ts, kube.ts, the commands) treats a
 * kubeconfig error exactly as before.
 */
export class UserError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(message: string, opts: { hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'UserError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }

  /** a UserError, or the kube library's KubeConfigError (nothing extends UserError) */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(UserError, value) || value instanceof KubeConfigError;
  }
}
