/**
 * FelixConfiguration `interfaceExclude` (felix/config/config_params.go:276, parsed by
 * `RegexpPatternListParam`, felix/config/param_types.go:234): a comma-separated list whose
 * elements are either an interface name (`^[a-zA-Z0-9_-]{1,15}$`, matched exactly) or a regular
 * expression wrapped in slashes (`^/[^\s]+/$`, matched anywhere in the name, as Go's
 * `Regexp.Match`). Default `kube-ipvs0`. Felix's interface monitor never reports an excluded
 * interface (felix/ifacemonitor/iface_monitor.go:190), so no host endpoint is resolved on it.
 */

export const DEFAULT_INTERFACE_EXCLUDE = 'kube-ipvs0';

const REGEX_ELEMENT = /^\/[^\s]+\/$/;
const NAME_ELEMENT = /^[a-zA-Z0-9_-]{1,15}$/;
/** What JavaScript accepts and Go's RE2 does not: lookaround and backreferences. */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]|\\k</;

export type InterfaceExcludeResult = { ok: true; matches: (iface: string) => boolean } | { ok: false; message: string };

export function parseInterfaceExclude(text: string): InterfaceExcludeResult {
  const tests: ((iface: string) => boolean)[] = [];
  for (const element of text.split(',')) {
    if (REGEX_ELEMENT.test(element)) {
      const source = element.slice(1, -1);
      let re: RegExp;
      try {
        if (NOT_RE2.test(source)) throw new Error('lookaround and backreferences are not Go (RE2) syntax');
        re = new RegExp(source);
      } catch (e) {
        return { ok: false, message: `interfaceExclude: invalid regular expression ${element}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}` };
      }
      tests.push((iface) => re.test(iface));
    } else if (NAME_ELEMENT.test(element)) {
      tests.push((iface) => iface === element);
    } else {
      return { ok: false, message: `interfaceExclude: list contains invalid Linux interface name or regex pattern '${element}' (names are 1-15 of [a-zA-Z0-9_-], regular expressions are wrapped in '/', elements are separated by ',' without spaces)` };
    }
  }
  return { ok: true, matches: (iface) => tests.some((t) => t(iface)) };
}
