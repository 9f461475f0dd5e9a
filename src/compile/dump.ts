/**
 * The IR dump folder: when `BRAINSTATE_DUMP_IR_TO` is set, every compiled function writes its
 * program as text (`<name>.<n>.txt`) and DOT (`<name>.<n>.dot`) there, like JAX_DUMP_IR_TO in
 * the seeds. Node only (synchronous, through process.getBuiltinModule); off in browsers.
 */
import type { Program } from './program';
import { programToDot } from './dot';

const counters = new Map<string, number>();

type Fs = typeof import('node:fs');
type PathMod = typeof import('node:path');

/** The dump folder, or null when dumping is off. */
export function dumpFolder(): string | null {
  const dir = typeof process !== 'undefined' ? process.env?.BRAINSTATE_DUMP_IR_TO : undefined;
  return dir != null && dir !== '' ? dir : null;
}

/** Write a program to the dump folder if one is set; returns the files written. */
export function dumpProgram(program: Program): string[] {
  const dir = dumpFolder();
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown })
    .getBuiltinModule;
  if (dir === null || getBuiltin === undefined) return [];
  const fs = getBuiltin('node:fs') as Fs;
  const path = getBuiltin('node:path') as PathMod;
  fs.mkdirSync(dir, { recursive: true });
  const safe = program.name.replace(/[^A-Za-z0-9_.-]/g, '_');
  const n = counters.get(safe) ?? 0;
  counters.set(safe, n + 1);
  const base = path.join(dir, `${safe}.${n}`);
  fs.writeFileSync(`${base}.txt`, program.toString() + '\n');
  fs.writeFileSync(`${base}.dot`, programToDot(program) + '\n');
  return [`${base}.txt`, `${base}.dot`];
}
