/**
 * The launcher: a registered app's symlink points here. argv[1] is the symlink,
 * its name is the app. It plans the launch (src/runtime/launch.ts) and runs the
 * exec helper that becomes the app. It exits with the app's code, 128+N when the
 * app died of signal N, and 125-127 only for its own failures.
 *
 * Warm-path budget: only node built-ins, yaml and src/core + src/runtime load here.
 */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debugStep, isDebug } from '../src/core/debug.js';
import { formatError, isPilotError } from '../src/core/errors.js';
import { explainSystemError } from '../src/core/system-error.js';
import { callerBytes } from '../src/runtime/caller-bytes.js';
import { prepareLaunch } from '../src/runtime/launch.js';
import { helperWords, runHelper } from '../src/runtime/run.js';

function helperPath(): string {
  return process.env.PILOT_EXEC ?? join(dirname(fileURLToPath(import.meta.url)), 'pilot-exec');
}

async function main(): Promise<number> {
  // The warm-path stub execs us with the app's name in PILOT_LAUNCH_AS (our own
  // argv[1] is then this script); the app must not inherit the variable.
  const invoked = process.env.PILOT_LAUNCH_AS ?? process.argv[1] ?? 'pilot-launch';
  delete process.env.PILOT_LAUNCH_AS;
  const app = basename(invoked);
  try {
    const helper = helperPath();
    // The caller's bytes, not Node's UTF-8 reading of them (core/bytes.ts).
    const caller = callerBytes(process.argv.slice(2), process.env, () => process.cwd());
    const prepared = await prepareLaunch({
      helper,
      app,
      args: caller.args,
      env: caller.env,
      cwd: caller.cwd,
      cwdDeleted: caller.cwdDeleted,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      debug: isDebug(),
    });
    if (isDebug()) {
      process.stderr.write(
        `pilot: exec ${[helper, ...prepared.argv].map((a) => JSON.stringify(a)).join(' ')}\n`,
      );
    }
    if (process.env.PILOT_FASTPATH === 'dry-run') {
      // docs/plan.md: print the words the helper would read (the plan is written), run nothing.
      process.stdout.write(helperWords(prepared.argv, caller.env));
      await prepared.finish();
      return 0;
    }
    const code = await runHelper(helper, prepared.argv, caller.env, prepared.started);
    debugStep(`app exited with ${code}`);
    await prepared.finish();
    return code;
  } catch (error) {
    const explained = explainSystemError(error);
    process.stderr.write(`${formatError(explained, app)}\n`);
    if (isPilotError(explained)) return explained.exitCode >= 125 ? explained.exitCode : 125;
    return 125;
  }
}

main().then((code) => process.exit(code));
