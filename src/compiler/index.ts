export { compileHost, compileHosts, resolveInterfaces } from './compile.js';
export * from './ir.js';
