export { authorizeControl, startHttpServer, type HttpServerOptions, type Readiness, type RunningHttpServer } from './server.js';
export { signBody, verifySignature } from './signature.js';
