/**
 * Names read from disk (apps, instances, files) go to a terminal: a control character in
 * one (an escape sequence, a newline making a fake row) is printed as `\xNN` instead.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (char) =>
    char === '\\' ? '\\\\' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
