/**
 * Who made a temp entry or holds a claim: a pid plus that process's start time.
 * A pid alone is not an identity: pid_max is 32768 on many hosts, so a pid is reused
 * within minutes, and an entry of a dead writer would look alive forever. With the
 * start time (clock ticks since boot, /proc/PID/stat field 22) a reused pid is seen
 * for what it is. Node built-ins only: the launcher uses this.
 */
import { readFileSync } from 'node:fs';
import { errnoOf } from './errors.js';

export interface Owner {
  pid: number;
  /** Decimal clock ticks since boot; '' when it could not be read. */
  start: string;
}

/** Whether a process exists (EPERM: it does, but belongs to someone else). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** A process's state letter and start time, or undefined when it is gone or /proc hides it (hidepid). */
function processStat(pid: number | 'self'): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return undefined;
  }
}

/** A process's start time, or undefined when it is gone or /proc hides it (hidepid). */
export function processStartTime(pid: number | 'self'): string | undefined {
  return processStat(pid)?.start;
}

let self: Owner | undefined;

/** This process as an owner (read once). */
export function selfOwner(): Owner {
  self ??= { pid: process.pid, start: processStartTime('self') ?? '' };
  return self;
}

/**
 * Whether the process that made an entry still runs. A start time that cannot be read
 * (recorded empty, or /proc mounted with hidepid) counts as a match: when in doubt the
 * entry is kept, never a live writer's work removed. A zombie (ended, not yet reaped by
 * its parent) runs no more.
 */
export function isOwnerAlive(owner: Owner): boolean {
  if (owner.pid === process.pid) return owner.start === '' || owner.start === selfOwner().start;
  if (!isPidAlive(owner.pid)) return false;
  const stat = processStat(owner.pid);
  if (stat?.state === 'Z') return false;
  return owner.start === '' || stat === undefined || stat.start === owner.start;
}

/** `pid start` as claims record it; parseOwner reads it back (also the older `pid` alone). */
export function formatOwner(owner: Owner = selfOwner()): string {
  return `${owner.pid} ${owner.start}`.trimEnd();
}

export function parseOwner(text: string): Owner | undefined {
  const match = /^(\d+)(?: (\d+))?\s*$/.exec(text);
  if (!match) return undefined;
  return { pid: Number(match[1]), start: match[2] ?? '' };
}
