/**
 * Known-answer vectors for crypt(3): password "Hello world!" hashed with a fixed setting. A target's libcrypt
 * "supports" a hash method when crypt(password, setting) returns exactly `expected`; libxcrypt returns the
 * failure token `*0` (or `*1`) for a method it was built without.
 *
 * Sources: `$6$`, `$5$` are the test vectors of Drepper's SHA-crypt specification (also reproduced by
 * `openssl passwd -6/-5 -salt saltstring`); `$1$` matches `openssl passwd -1`; the others were computed
 * with Debian bookworm's libxcrypt 4.4.33 (all hashes enabled) and are stable across libxcrypt versions.
 */
export interface CryptVector {
  /** The prefix as it appears in /etc/shadow: `$6$`, `$y$`, `$2b$`, `des`, … */
  readonly prefix: string;
  /** libxcrypt's name for the method (`--enable-hashes=` list). */
  readonly method: string;
  readonly setting: string;
  readonly expected: string;
}

export const CRYPT_TEST_PASSWORD = 'Hello world!';

export const CRYPT_VECTORS: readonly CryptVector[] = [
  { prefix: '$6$', method: 'sha512crypt', setting: '$6$saltstring', expected: '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1' },
  { prefix: '$5$', method: 'sha256crypt', setting: '$5$saltstring', expected: '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5' },
  { prefix: '$y$', method: 'yescrypt', setting: '$y$j9T$F5Jx5fExrKuPp53xLKQ..1', expected: '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$42RgPIrXdXSEEs77lDi/4IqKVqFBAVaHJkzw5uD1r57' },
  { prefix: '$gy$', method: 'gost-yescrypt', setting: '$gy$j9T$F5Jx5fExrKuPp53xLKQ..1', expected: '$gy$j9T$F5Jx5fExrKuPp53xLKQ..1$uLkBCRJb/TzKBTR3DrVo2tiThTkOvFiPjk1DUnHM8aA' },
  { prefix: '$7$', method: 'scrypt', setting: '$7$CU..../....SodiumChloride', expected: '$7$CU..../....SodiumChloride$/oECDQnwz0U8HMHROR3rfTPQAXeISIJz649xETzSAD/' },
  { prefix: '$2b$', method: 'bcrypt', setting: '$2b$05$CCCCCCCCCCCCCCCCCCCCC.', expected: '$2b$05$CCCCCCCCCCCCCCCCCCCCC.z6PrHbuSsMSSwIGFy1JGevQZf6CqJ1y' },
  { prefix: '$2y$', method: 'bcrypt_y', setting: '$2y$05$CCCCCCCCCCCCCCCCCCCCC.', expected: '$2y$05$CCCCCCCCCCCCCCCCCCCCC.z6PrHbuSsMSSwIGFy1JGevQZf6CqJ1y' },
  { prefix: '$2a$', method: 'bcrypt_a', setting: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.', expected: '$2a$05$CCCCCCCCCCCCCCCCCCCCC.z6PrHbuSsMSSwIGFy1JGevQZf6CqJ1y' },
  { prefix: '$1$', method: 'md5crypt', setting: '$1$saltstri', expected: '$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1' },
  { prefix: '$sha1$', method: 'sha1crypt', setting: '$sha1$40000$saltstring', expected: '$sha1$40000$saltstring$bupUtmCnlL4IqsgKwYOOMJUV1484' },
  { prefix: '$md5', method: 'sunmd5', setting: '$md5,rounds=904$saltstring', expected: '$md5,rounds=904$saltstring$AsyjMnzTcRsW6MrZhC9dt/' },
  { prefix: '$3$', method: 'nt', setting: '$3$', expected: '$3$$87ee0af454a9cb8d90d24196068637a8' },
  { prefix: '_', method: 'bsdicrypt', setting: '_J9..SALT', expected: '_J9..SALTR4NA63DRsUw' },
  { prefix: 'des', method: 'descrypt', setting: 'ab', expected: 'abMbH7WsHr7wQ' },
];

/**
 * The method prefix of a stored hash: `$6$`, `$y$`, `$2b$`, `$md5` (sunmd5 has `$md5$` and `$md5,rounds=`),
 * `_` for BSDi, `des` for a 13-character traditional DES hash; undefined for anything else (a locked or
 * empty field, or an unknown scheme).
 */
export function hashPrefixOf(hash: string): string | undefined {
  if (hash.startsWith('$md5')) return '$md5';
  const match = /^\$([0-9a-z]+)\$/.exec(hash);
  if (match) return `$${match[1]}$`;
  if (/^_[./0-9A-Za-z]{19}$/.test(hash)) return '_';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'des';
  return undefined;
}

export function vectorFor(prefix: string): CryptVector | undefined {
  return CRYPT_VECTORS.find((vector) => vector.prefix === prefix);
}
