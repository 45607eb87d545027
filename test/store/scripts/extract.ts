/** Child-process entry for the unprivileged test: `node extract.mjs TAR DEST TMPDIR`. */
import { extractTarSafely } from '../../../src/store/extract.js';

const [tar, dest, tmpDir] = process.argv.slice(2);
try {
  const result = await extractTarSafely(tar!, dest!, { tmpDir: tmpDir!, label: 'user.tar' });
  process.stdout.write(`${JSON.stringify({ ok: true, created: result.created })}\n`);
} catch (error) {
  const { code, message } = error as { code?: string; message: string };
  process.stdout.write(`${JSON.stringify({ ok: false, code, message })}\n`);
}
