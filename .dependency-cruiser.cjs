// The house's floors, bottom up: data flows one way. A module may import from its own floor or any floor below it,
// never from a floor above, and there are no import cycles. `npm run lint:deps` checks this in CI.
// .dependency-cruiser-known-violations.json is the list of tolerated exceptions, and it is empty: every violation
// fails the check. Keep it empty; fix the import instead of adding an entry.
const floors = ['engine', 'layers', 'io|data', 'attacks', 'train', 'analysis', 'report', 'experiments', 'cli|lab'];

const floorRules = floors.slice(0, -1).map((floor, i) => ({
  name: `floor-${floor.replace('|', '-')}`,
  comment: `src/${floor} is floor ${i}: it must not import from a floor above it (${floors.slice(i + 1).join(', ')})`,
  severity: 'error',
  from: { path: `^src/(${floor})/` },
  to: { path: `^src/(${floors.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle ties two modules into one: split the shared part into a module both import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-stays-in-src',
      comment: 'The library and the CLI import only from src/ (and packages): bench/, test/ and scripts/ sit outside it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(bench|test|scripts)/' },
    },
    ...floorRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
