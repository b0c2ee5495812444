import { createHash } from 'node:crypto';

export const shortHash = (text: string, length = 16): string => createHash('sha256').update(text).digest('hex').slice(0, length);

/**
 * An identifier that is safe as an nft chain or set name whatever the input: a readable DNS-style
 * name is kept, anything else becomes a hash. `_` never occurs in readable names, so the hashed
 * form `<prefix>_<hex>` cannot collide with one.
 */
export function safeId(prefix: string, raw: string): string {
  return /^[a-z0-9][a-z0-9.-]{0,47}$/.test(raw) ? `${prefix}-${raw}` : `${prefix}_${shortHash(raw)}`;
}

/** Interface names that can be written into an nft string without quoting trouble. */
export const SAFE_IFNAME = /^[a-zA-Z0-9_.@-]{1,15}$/;
