/**
 * The check shared by the tests of the hand-written wasm modules: the committed base64 binary is
 * the WAT text assembled by wabt 1.0.39 with the given features. When they differ the error
 * carries the new value, so regenerating the binary is a copy.
 */
import wabtInit from 'wabt';

export async function expectAssembled(
  wat: string,
  base64: string,
  binaryFile: string,
  features: Record<string, boolean> = { simd: true },
): Promise<void> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('module.wat', wat, features);
  try {
    mod.validate();
    const now = Buffer.from(mod.toBinary({}).buffer).toString('base64');
    if (now !== base64) throw new Error(`${binaryFile} is stale; set its base64 to:\n'${now}'`);
  } finally {
    mod.destroy();
  }
}
