import type { EntityRule } from '../model/schemas.js';
import { parseSelector, selectorToString, type SelectorNode } from '../selector/index.js';

/** Label prefixes Calico gives namespace and service-account labels (libcalico-go k8s/conversion/constants.go). */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';

function prefixed(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.op) {
    case 'all':
    case 'global':
      return node;
    case 'not':
      return { op: 'not', operand: prefixed(node.operand, prefix) };
    case 'and':
    case 'or':
      return { op: node.op, operands: node.operands.map((o) => prefixed(o, prefix)) };
    default:
      return { ...node, label: prefix + node.label };
  }
}

/** `parseSelectorAttachPrefix` (updateprocessors/selectors.go:28): every label key prefixed, canonical text. */
const attachPrefix = (text: string, prefix: string): string => selectorToString(prefixed(parseSelector(text).ast, prefix));

/** `parseServiceAccounts` (updateprocessors/rules.go:223). */
function serviceAccountSelector(sa: EntityRule['serviceAccounts']): string {
  if (!sa) return '';
  const bySelector = sa.selector ? attachPrefix(sa.selector, SERVICE_ACCOUNT_LABEL_PREFIX) : '';
  const names = sa.names ?? [];
  if (names.length === 0) return bySelector;
  const byName = parseSelector(`${LABEL_SERVICE_ACCOUNT} in { '${names.join("', '")}' }`).toString();
  return bySelector ? `(${bySelector}) && (${byName})` : byName;
}

/**
 * The one selector an entity rule's peers must match, as Calico's v3→v1 conversion writes it
 * (`getEndpointSelector`, libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go:60):
 * service accounts and `selector` ANDed; a `namespaceSelector` becomes a selector on `pcns.`
 * namespace labels (`all()` = any namespaced endpoint, `global()` = no namespace) ANDed in front.
 * Host endpoints and network sets carry no namespace labels, so a namespaceSelector other than
 * `global()` never matches them, and an unknown address is in no set at all. `ns` is the
 * namespace of a NetworkPolicy; empty for a GlobalNetworkPolicy or Profile.
 * Undefined: no selector, the peer is unconstrained. `notSelector` stays separate, as in Calico.
 */
export function entitySelector(e: Pick<EntityRule, 'selector' | 'notSelector' | 'namespaceSelector' | 'serviceAccounts'>, ns = ''): string | undefined {
  let nsSelector = '';
  if (e.namespaceSelector) {
    // Calico replaces in the text, not the tree (a quoted value "all()" is replaced too); so does this.
    nsSelector = attachPrefix(e.namespaceSelector, NAMESPACE_LABEL_PREFIX)
      .replaceAll('all()', `has(${LABEL_NAMESPACE})`)
      .replaceAll('global()', `!has(${LABEL_NAMESPACE})`);
  } else if (ns) {
    nsSelector = `${LABEL_NAMESPACE} == '${ns}'`;
  }
  const parts = [serviceAccountSelector(e.serviceAccounts), e.selector ?? ''].filter((s) => s !== '');
  let selector = parts.length === 0 ? '' : parts.length === 1 ? parts[0]! : `(${parts.join(') && (')})`;
  if (nsSelector && (selector || e.notSelector || e.namespaceSelector)) selector = selector ? `(${nsSelector}) && (${selector})` : nsSelector;
  return selector === '' ? undefined : selector;
}
