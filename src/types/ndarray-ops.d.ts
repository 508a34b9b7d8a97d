// ndarray-ops ships no types; src/engine/nd.ts declares the subset nablax uses.
declare module 'ndarray-ops';
