/** One finding of `pilot doctor`: what was checked, how it went, and the fix. */

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable name, e.g. `overlayfs`. */
  check: string;
  status: CheckStatus;
  /** True when pilot cannot launch apps without it (a failure makes doctor exit 1). */
  required: boolean;
  detail: string;
  /** What to do about it; null when status is ok. */
  fix: string | null;
}

/** A finding: `ok` when good, else `fail` when pilot cannot launch without it, else `warn`. */
export function check(
  name: string,
  required: boolean,
  good: boolean,
  detail: string,
  fix: string,
): DoctorCheck {
  return {
    check: name,
    status: good ? 'ok' : required ? 'fail' : 'warn',
    required,
    detail,
    fix: good ? null : fix,
  };
}
