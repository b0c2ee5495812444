export { applyRuleset, checkDrift, compareStructure, NftError, readTable, restoreRuleset, type ApplyHints, type ApplyResult, type DriftReport, type NftErrorCode, type SavedRuleset } from './apply.js';
export { localNft, netnsNft, RootNamespaceRefused, type NftResult, type NftRunner } from './nft-runner.js';
export { ACCEPT_MARK, PASS_MARK, renderNft, RenderError, rulesetHash, TABLE } from './render.js';
export { createDriftMonitor, firstDifference, type DriftDetails, type DriftHost, type DriftMonitor, type DriftMonitorOptions } from './drift-monitor.js';
