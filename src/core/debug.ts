/** `PILOT_DEBUG=1`: each step with its time since start, on stderr. */
const enabled =
  process.env.PILOT_DEBUG !== undefined &&
  process.env.PILOT_DEBUG !== '' &&
  process.env.PILOT_DEBUG !== '0';
const start = performance.now();
let last = start;

export function isDebug(): boolean {
  return enabled;
}

export function debugStep(step: string): void {
  if (!enabled) return;
  const now = performance.now();
  process.stderr.write(
    `pilot: +${(now - start).toFixed(1)}ms (${(now - last).toFixed(1)}ms) ${step}\n`,
  );
  last = now;
}
