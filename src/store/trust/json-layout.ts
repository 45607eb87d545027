/**
 * Where each value of a valid JSON text starts, and its first repeated key. JSON.parse
 * keeps the last of two equal keys without a word; in a trust policy that is a rule
 * silently overridden (two "docker" sections, the second one wide open), so the policy
 * reader refuses repeats, as the containers tools do, and names the line of whatever it
 * refuses. Iterative: nesting depth costs no stack. Call it only on text JSON.parse took.
 */

export type JsonPath = readonly (string | number)[];

export interface JsonLayout {
  /** Offset of the value at `path` in the text, if there is one. */
  offsetOf(path: JsonPath): number | undefined;
  /** The first key that repeats one of its object, if any. */
  duplicate: { path: JsonPath; offset: number } | undefined;
}

interface Frame {
  close: '}' | ']';
  path: JsonPath;
  index: number;
  keys: Set<string>;
}

export function scanJsonLayout(text: string): JsonLayout {
  const offsets = new Map<string, number>();
  let duplicate: JsonLayout['duplicate'];
  let i = 0;
  const skipSpace = () => {
    while (' \t\n\r'.includes(text[i] ?? 'x')) i++;
  };
  const readString = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const stack: Frame[] = [];
  /** Reads `"key":` of the innermost object and returns the path of its value. */
  const readKey = (frame: Frame): JsonPath => {
    skipSpace();
    const offset = i;
    const key = readString();
    const path = [...frame.path, key];
    if (frame.keys.has(key) && duplicate === undefined) duplicate = { path, offset };
    frame.keys.add(key);
    skipSpace();
    i++; // the colon
    return path;
  };

  let path: JsonPath = [];
  for (;;) {
    skipSpace();
    offsets.set(JSON.stringify(path), i);
    const char = text[i];
    let opened = false;
    if (char === '{' || char === '[') {
      i++;
      skipSpace();
      const close = char === '{' ? '}' : ']';
      if (text[i] === close) i++;
      else {
        const frame: Frame = { close, path, index: 0, keys: new Set() };
        stack.push(frame);
        path = close === '}' ? readKey(frame) : [...path, 0];
        opened = true;
      }
    } else if (char === '"') readString();
    else while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++;
    if (opened) continue;
    // After a value: close what ends here, then step to the next member or element.
    let done = false;
    for (;;) {
      skipSpace();
      const frame = stack.at(-1);
      if (frame === undefined) {
        done = true;
        break;
      }
      if (text[i] === frame.close) {
        i++;
        stack.pop();
        continue;
      }
      i++; // the comma
      frame.index++;
      path = frame.close === '}' ? readKey(frame) : [...frame.path, frame.index];
      break;
    }
    if (done) break;
  }
  return {
    offsetOf: (at) => offsets.get(JSON.stringify(at)),
    duplicate,
  };
}

/**
 * `path` as a reader of policy.json would write it: `transports.docker["host/repo"][0].type`.
 * Keys at the depths in `quoted` are always bracketed (a scope `h` reads as `["h"]`).
 */
export function describeJsonPath(path: JsonPath, quoted: readonly number[] = []): string {
  let out = '';
  for (const [depth, step] of path.entries()) {
    if (typeof step === 'string' && quoted.includes(depth)) out += `[${JSON.stringify(step)}]`;
    else out = appendStep(out, step);
  }
  return out === '' ? '(top level)' : out;
}

function appendStep(before: string, step: string | number): string {
  let out = before;
  if (typeof step === 'number') out += `[${step}]`;
  else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(step)) out += out === '' ? step : `.${step}`;
  else out += `[${JSON.stringify(step)}]`;
  return out;
}
