/**
 * An error in the user's Kubernetes configuration (kubeconfig, context,
 * credentials, proxy settings) that the user can act on. The CLI prints it
 * exactly like its own UserError: one line plus an optional hint, no stack,
 * and exits with `exitCode` (src/cli/errors.ts recognises it). It lives here
 * so that the kube library imports no command code.
 */
export class KubeConfigError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(message: string, opts: { hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'KubeConfigError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }
}
