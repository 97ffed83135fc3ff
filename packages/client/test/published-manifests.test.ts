// What `pnpm pack` (and so `pnpm publish` / `changeset publish`) puts in the manifests of the three
// published packages: ranges that apps can dedupe, no private workspace package, the metadata
// npm shows, and the license file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const published = ['protocol', 'server', 'client'];

/** Names of the workspace's private packages (apps, tools): never a dependency of a published one. */
function privatePackages(): string[] {
  const names: string[] = [];
  for (const group of ['apps', 'tools', 'packages']) {
    for (const dir of readdirSync(join(root, group))) {
      try {
        const manifest = JSON.parse(readFileSync(join(root, group, dir, 'package.json'), 'utf8'));
        if (manifest.private) names.push(manifest.name);
      } catch {
        // not a package
      }
    }
  }
  return names;
}

interface Packed {
  manifest: Record<string, unknown> & {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  files: string[];
}

let out: string;
const packed = new Map<string, Packed>();

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'packed-'));
  for (const name of published) {
    const dir = join(root, 'packages', name);
    const tarball = execFileSync('pnpm', ['pack', '--pack-destination', out], {
      cwd: dir,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .at(-1)!;
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const manifest = JSON.parse(
      execFileSync('tar', ['xzf', tarball, '-O', 'package/package.json'], { encoding: 'utf8' }),
    );
    packed.set(name, { manifest, files });
  }
}, 60_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe.each(published)('the packed @flagsmith-rt/%s', (name) => {
  it('depends on ranges only, on no private or workspace: package, and has no devDependencies', () => {
    const { manifest } = packed.get(name)!;
    const hidden = privatePackages();
    expect(manifest.devDependencies).toBeUndefined();
    for (const [dependency, range] of Object.entries({
      ...manifest.dependencies,
      ...manifest.peerDependencies,
    })) {
      expect(hidden, dependency).not.toContain(dependency);
      expect(range, dependency).toMatch(/^\^\d+\.\d+\.\d+$/);
    }
  });

  it('names its repository, homepage and issue tracker', () => {
    const { manifest } = packed.get(name)!;
    expect(manifest.repository).toMatchObject({ type: 'git', directory: `packages/${name}` });
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.bugs).toMatchObject({ url: expect.stringMatching(/^https:\/\//) });
    expect(manifest.license).toBe('MIT');
  });

  it('ships the MIT license text', () => {
    const { files } = packed.get(name)!;
    expect(files).toContain('package/LICENSE');
    expect(readFileSync(join(root, 'packages', name, 'LICENSE'), 'utf8')).toBe(
      readFileSync(join(root, 'LICENSE'), 'utf8'),
    );
  });
});
