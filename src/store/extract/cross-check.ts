/**
 * GNU tar's list of what it extracted must equal the list pass 1 validated, so that a
 * header the two readers parse differently cannot smuggle an entry in.
 */
import { PilotError } from '../../core/errors.js';

export function compareNames(label: string, validated: string[], extracted: string[]): void {
  const length = Math.max(validated.length, extracted.length);
  for (let i = 0; i < length; i++) {
    if (validated[i] !== extracted[i]) {
      throw new PilotError(
        'PILOT_LAYER_UNSAFE',
        `${label}: entry ${i + 1} reads as "${validated[i] ?? '(none)'}" to the validator but as "${extracted[i] ?? '(none)'}" to GNU tar; refused`,
        { hint: 'the archive has headers that tar readers interpret differently; rebuild it' },
      );
    }
  }
}
