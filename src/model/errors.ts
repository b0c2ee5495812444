/** Why a file or resource was rejected; stable identifiers for machines, `message` for people. */
export type ModelErrorCode =
  | 'READ_ERROR'
  | 'FILE_TOO_LARGE'
  | 'BINARY_FILE'
  | 'NOT_UTF8'
  | 'YAML_SYNTAX'
  | 'DUPLICATE_KEY'
  | 'ALIAS_LIMIT'
  | 'NESTING_LIMIT'
  | 'UNKNOWN_TAG'
  | 'SYMLINK'
  | 'NOT_A_RESOURCE'
  | 'BAD_API_VERSION'
  | 'UNKNOWN_KIND'
  | 'UNKNOWN_FIELD'
  | 'INVALID_FIELD'
  | 'DUPLICATE_NAME'
  | 'MISSING_TIER'
  | 'SKIPPED_INVALID'
  | 'FELIX_FIELDS_IGNORED'
  | 'FELIX_CONFIG_UNUSED'
  | 'NETWORK_POLICY_NOT_FOR_HOSTS'
  | 'MISSING_PROFILE'
  | 'NOTNETS_CATCH_ALL'
  | 'ROLLOUT_CONFIG_INVALID'
  | 'NOTIFY_ENV_UNSET';

export interface ModelError {
  code: ModelErrorCode;
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  kind?: string;
  name?: string;
  /** Dotted path inside the resource, e.g. `spec.ingress[0].destination.ports[1]`. */
  field?: string;
  message: string;
}

/** `file:line:col: Kind/name: field: reason`, leaving out the parts that are unknown. */
export function formatModelError(e: ModelError): string {
  const parts = [`${e.file}:${e.line}:${e.col}`];
  if (e.kind) parts.push(e.name ? `${e.kind}/${e.name}` : e.kind);
  if (e.field) parts.push(e.field);
  parts.push(e.message);
  return parts.join(': ');
}

export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), '');
}

/** Thrown by the library API's `parse…OrThrow` helpers; carries every problem found. */
export class ModelValidationError extends Error {
  readonly code = 'MODEL_INVALID';
  constructor(readonly errors: readonly ModelError[]) {
    super(errors.map(formatModelError).join('\n'));
    this.name = 'ModelValidationError';
  }
}

