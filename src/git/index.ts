export { openGitSource, type GitSource, type GitSourceOptions, type GitCredentials, type CommitInfo, type CommitRange, type PolicyFile, type FileChange } from './source.js';
export { GitSourceError, isGitSourceError, type GitSourceErrorCode } from './errors.js';
export { withBackoff, backoffDelay, type BackoffOptions } from '../backoff.js';
export { redactUrl } from './credentials.js';
