/** Smoke test of examples/show-graph.ts (seed 004): the three graphs, their pictures and RESULT figures. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, summary } from '../../examples/show-graph';

describe('examples/show-graph', () => {
  const dir = mkdtempSync(join(tmpdir(), 'show-graph-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles the three networks, writes .png and .dot, and reports groups/relations', async () => {
    const r = await main({ outDir: dir, print: false });
    const s = summary(r);
    expect(Object.keys(s)).toEqual(['lif-delta', 'gifnet', 'convsnn']);
    expect(s['lif-delta']).toMatchObject({ groups: 2, relations: 2, groupSizes: [1, 1] });
    expect(s.gifnet).toMatchObject({ groups: 4, relations: 4, groupSizes: [3, 3, 3, 1] });
    expect(s.convsnn).toMatchObject({ groups: 4, relations: 6, groupSizes: [1, 1, 1, 1] });
    for (const [name, v] of Object.entries(r)) {
      expect(v.compile_ms).toBeGreaterThan(0);
      expect(v.text.startsWith('='.repeat(120))).toBe(true);
      const png = join(dir, `show-graph-${name}.png`);
      const dot = join(dir, `show-graph-${name}.dot`);
      expect(v.files).toEqual([png, dot]);
      expect(existsSync(png) && statSync(png).size > 1000).toBe(true);
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
      expect(readFileSync(dot, 'utf8')).toMatch(/^digraph /);
    }
    // the RESULT line carries only the figures, not the text
    expect(Object.keys(s.gifnet)).toEqual(['groups', 'relations', 'groupSizes', 'compile_ms']);
  });

  it('without an output directory it writes nothing', async () => {
    const r = await main({ outDir: null, print: false });
    expect(r.gifnet.files).toEqual([]);
    expect(r.convsnn.relations).toBe(6);
  });
});
