// pnpm hooks. Only `beforePacking`: what `pnpm pack` and `pnpm publish` (thus `changeset publish`)
// put in a published package.json.

/**
 * Published manifests carry no devDependencies. They matter only inside this repository, and
 * several name private workspace packages (the service, test helpers) that are never published,
 * so a published manifest would point at packages nobody can install.
 */
function beforePacking(pkg) {
  delete pkg.devDependencies;
  return pkg;
}

module.exports = { hooks: { beforePacking } };
