// as-pect runs the core's unit tests (tests/assembly). The test build does not extend
// asconfig.json: it needs no WASI (the core reads no clock and prints nothing), and as-pect's
// own abort must stay in charge so that a failing assertion fails a test instead of the run.
// The core's one import, `out`, is a no-op here: specs observe outputs through the core's tap.
export default {
  entries: ['tests/assembly/**/*.spec.ts'],
  include: ['tests/assembly/**/*.include.ts'],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory }, wasinet: { out() {} } }));
  },
  outputBinary: false,
};
