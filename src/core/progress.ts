/**
 * Progress for long work (load, pull): redrawn in place on a terminal, silent
 * when stderr is not one (pipes and logs get no carriage returns), and when the
 * caller asks for quiet. NO_COLOR is honoured by not colouring at all.
 */
export interface Progress {
  update: (done: number, total: number) => void;
  done: () => void;
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** `enabled` undefined: decide by whether stderr is a terminal. */
export function createProgress(enabled: boolean | undefined, label: string): Progress {
  const active = enabled ?? Boolean(process.stderr.isTTY);
  if (!active) return { update: () => {}, done: () => {} };
  let lastDraw = 0;
  let drawn = false;
  return {
    update: (done, total) => {
      const now = Date.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      const percent = total > 0 ? ` ${Math.floor((done / total) * 100)}%` : '';
      process.stderr.write(
        `\r\x1b[K${label}: ${formatMegabytes(done)}${total > 0 ? ` / ${formatMegabytes(total)}` : ''}${percent}`,
      );
      drawn = true;
    },
    done: () => {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
