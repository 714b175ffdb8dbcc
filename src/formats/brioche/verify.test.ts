import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashOf, postTags, putProject } from '../../../test/support/brioche-registry.js';
import { openTestApp, type TestApp } from '../../../test/support/larder.js';
import { verifyBriocheRepo } from './verify.js';

let t: TestApp;
beforeAll(async () => {
  t = await openTestApp({ repos: [{ name: 'bri', format: 'brioche', kind: 'hosted', visibility: 'public' }] });
});
afterAll(() => t?.stop());

it('finds a tagged repo consistent, lists its cache objects, and names a tag document that disagrees with its row', async () => {
  const project = hashOf('verified project');
  await putProject(t.registry, 'bri', project);
  const res = await postTags(t.app, 'bri', [{ projectName: 'jq', tag: 'latest', projectHash: project }], `Bearer ${t.adminToken}`);
  expect(res.statusCode, res.body).toBe(200);
  const repo = t.registry.repos.get('bri')!;
  const clean = await verifyBriocheRepo(t.registry, repo);
  expect(clean.problems).toEqual([]);
  expect(clean.checked).toEqual({ 'cache objects': 1, tags: 1 });
  expect(clean.references.map((r) => r.what)).toEqual([`cache object projects/${project}/source.json`]);

  // A document edited behind Larder's back (a bad restore) is named, with what the row says.
  await t.registry.db
    .updateTable('index_docs')
    .set({ body: Buffer.from('{"projectHash":"0"}') })
    .where('repo_id', '=', repo.id)
    .where('path', '=', 'tags/jq/latest')
    .execute();
  const broken = await verifyBriocheRepo(t.registry, repo);
  expect(broken.problems).toEqual([`tag jq:latest: its document tags/jq/latest does not name ${project}, the hash its row holds`]);
});
