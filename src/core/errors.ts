import { mapStack } from './internal-stack.js';

/**
 * One error type for everything a user can act on. `code` is stable (tests and
 * scripts match on it), `message` names the file, line or entry, `hint` says what
 * to do next. The CLI prints these and exits with `exitCode`; anything else is a bug.
 */
export type PilotErrorCode =
  | 'PILOT_USAGE'
  | 'PILOT_FLAKE_INVALID'
  | 'PILOT_FLAKE_UNKNOWN'
  | 'PILOT_APP_EXISTS'
  | 'PILOT_PATH_IN_WAY'
  | 'PILOT_IMAGE_UNKNOWN'
  | 'PILOT_IMAGE_INVALID'
  | 'PILOT_IMAGE_IN_USE'
  | 'PILOT_INCLUDE_INVALID'
  | 'PILOT_TARGET_MISSING'
  | 'PILOT_LAYER_UNSAFE'
  | 'PILOT_DIGEST_MISMATCH'
  | 'PILOT_REMOVED_UNSAFE'
  | 'PILOT_HOST_FILES_MISSING'
  | 'PILOT_HOST_PATH_REFUSED'
  | 'PILOT_ENGINE_MISSING'
  | 'PILOT_HOST_LAYER'
  | 'PILOT_PULL_FAILED'
  | 'PILOT_REGISTRY_UNREACHABLE'
  | 'PILOT_REGISTRY_AUTH'
  | 'PILOT_REGISTRY_TLS'
  | 'PILOT_POLICY_INVALID'
  | 'PILOT_TRUST_REJECTED'
  | 'PILOT_LOAD_FAILED'
  | 'PILOT_PACKAGE_FAILED'
  | 'PILOT_NEEDS_PRIVILEGE'
  | 'PILOT_RUNTIME'
  | 'PILOT_TOOL_MISSING'
  | 'PILOT_TOOL_FAILED'
  | 'PILOT_DISK_FULL'
  | 'PILOT_BUSY'
  | 'PILOT_MIGRATE_JOURNAL'
  | 'PILOT_INTERNAL';

export interface PilotErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: number;
}

export class PilotError extends Error {
  readonly code: PilotErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: PilotErrorCode, message: string, options: PilotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PilotError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? (code === 'PILOT_USAGE' ? 2 : 1);
  }
}

export function isPilotError(error: unknown): error is PilotError {
  return error instanceof PilotError;
}

/** The errno of a Node system error, or undefined. Lets callers catch only what they expect. */
export function errnoOf(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Formats an error the way every pilot command and the launcher print it:
 * `pilot: message`, `  hint: ...`, and `  code: PILOT_...`, the stable code scripts match
 * on. Anything that is no PilotError is a bug of pilot's: its stack is printed, mapped to
 * the source files when the bundle's source map is there (internal-stack.ts, loaded only
 * here, so that no start-up pays for it).
 */
export function formatError(error: unknown, program = 'pilot'): string {
  if (isPilotError(error)) {
    const lines = [`${program}: ${error.message}`];
    if (error.hint) lines.push(`  hint: ${error.hint}`);
    lines.push(`  code: ${error.code}`);
    return lines.join('\n');
  }
  const message = error instanceof Error ? mapStack(error.stack ?? error.message) : String(error);
  return `${program}: internal error: ${message}\n  code: PILOT_INTERNAL`;
}
