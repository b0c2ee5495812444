export { compileHost, compileHosts, resolveInterfaces } from './compile.js';
export { affectedNodes, IncrementalCompiler } from './incremental.js';
export * from './ir.js';
