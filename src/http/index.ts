export { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './server.js';
export { signBody, verifySignature } from './signature.js';
