/** Palisade's library API: Calico resource model, loader and selector language. */
export * from './model/schemas.js';
export { loadPolicyFiles, loadPolicyDirectory, parsePolicyText, parseResourcesOrThrow, validateCandidate, type LoadOptions, type LoadResult, type LoadedFile } from './model/load.js';
export { formatModelError, ModelValidationError, type ModelError, type ModelErrorCode } from './model/errors.js';
export type { Located } from './model/repository-rules.js';
export { parseSelector, selectorFromAst, selectorToString, usesGlobal, SelectorError, type Selector, type SelectorNode, type Labels as SelectorLabels } from './selector/index.js';
export { desiredStateOf, effectiveFelix, resourceKey, type DesiredState, type SourceLocation, type EffectiveFelix } from './state/desired-state.js';
export { convertV1, v1EntriesFromJson, toYamlDocuments, type V1Entry, type V1Conversion } from './model/v1-convert.js';
export { printResources, resourceToInput, portToInput } from './model/print.js';
export { runValidate } from './cli/validate.js';
export { runConvert } from './cli/convert.js';
