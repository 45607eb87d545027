/**
 * GNU tar's list of what it extracted must equal the list pass 1 validated, so that a
 * header the two readers parse differently cannot smuggle an entry in.
 */
import { PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';

/** Names come from the image: short and escaped in a message. */
function quoteName(name: string | undefined): string {
  return name === undefined ? '(none)' : quoteExcerpt(name);
}

export function compareNames(label: string, validated: string[], extracted: string[]): void {
  const length = Math.max(validated.length, extracted.length);
  for (let i = 0; i < length; i++) {
    if (validated[i] !== extracted[i]) {
      throw new PilotError(
        'PILOT_LAYER_UNSAFE',
        `${label}: entry ${i + 1} reads as ${quoteName(validated[i])} to the validator but as ${quoteName(extracted[i])} to GNU tar; refused`,
        { hint: 'the archive has headers that tar readers interpret differently; rebuild it' },
      );
    }
  }
}
