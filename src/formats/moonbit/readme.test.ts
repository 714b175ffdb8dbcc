/** Which file of a module zip the publish keeps as its README, whatever order the zip lists its entries in. */
import { describe, expect, it } from 'vitest';
import { makeZip } from '../../../test/support/archives.js';
import { MAX_README_LENGTH } from '../../registry/readmes.js';
import { README_MAX_BYTES, readmeField } from './readme.js';
import { readModuleZip } from './zip.js';

const LIMITS = { maxEntries: 100, maxUnpackedSize: 16 << 20, maxManifestSize: 1 << 16 };
const mod = (more: object = {}) => ({
  name: 'moon.mod.json',
  data: Buffer.from(JSON.stringify({ name: 'a/b', version: '1.0.0', ...more })),
});
const file = (name: string, text: string | Buffer) => ({ name, data: Buffer.from(text) });
const readmeOf = async (entries: Array<{ name: string; data: Buffer }>) => (await readModuleZip(makeZip(entries), LIMITS)).readme;

describe('the README of a module zip', () => {
  it('is the file moon.mod.json names, before or after the manifest in the zip', async () => {
    const named = mod({ readme: 'README.mbt.md' });
    const files = [file('README.md', '# plain'), file('README.mbt.md', '# tested'), file('src/README.mbt.md', '# a package')];
    expect(await readmeOf([...files, named])).toBe('# tested');
    expect(await readmeOf([named, ...files])).toBe('# tested');
  });

  it('may be below the root when the manifest names it, ./ and all (found when the manifest comes first)', async () => {
    expect(await readmeOf([mod({ readme: './docs/guide.md' }), file('docs/guide.md', '# guide'), file('README.md', '# root')])).toBe(
      '# guide',
    );
    expect(readmeField('moon.mod.json', mod({ readme: '../outside.md' }).data)).toBeNull();
    expect(readmeField('moon.mod', Buffer.from('name = "a/b"\nreadme = "docs/x.md"'))).toBe('docs/x.md');
  });

  it('is README.md at the root when the manifest names none (else README.mbt.md), never a package README', async () => {
    expect(
      await readmeOf([file('src/README.md', '# package'), file('README.mbt.md', '# tested'), file('README.md', '# root'), mod()]),
    ).toBe('# root');
    expect(await readmeOf([mod(), file('readme.MBT.md', '# tested')])).toBe('# tested');
    expect(await readmeOf([mod(), file('src/README.md', '# package')])).toBeUndefined();
    expect(await readmeOf([mod({ readme: 'MISSING.md' }), file('README.md', '# root')])).toBeUndefined();
  });

  it('keeps README.md however many other Markdown files the zip lists before its manifest', async () => {
    const others = ['AUTHORS.md', 'CHANGELOG.md', 'CONTRIBUTING.md', 'HISTORY.md', 'LICENSE.md', 'NEWS.md'].map((n) => file(n, `# ${n}`));
    expect(await readmeOf([...others, file('README.md', '# root'), mod()])).toBe('# root');
    expect(await readmeOf([...others, file('README.md', '# root'), mod({ readme: 'AUTHORS.md' })])).toBe('# AUTHORS.md');
  });

  it('keeps a bounded prefix of a huge README, longer than what is stored (putReadme cuts it with a note)', async () => {
    const huge = 'x'.repeat(README_MAX_BYTES + 4096);
    const readme = (await readmeOf([file('README.md', huge), mod()]))!;
    expect(readme.length).toBe(README_MAX_BYTES);
    expect(readme.length).toBeGreaterThan(MAX_README_LENGTH);
  });
});
