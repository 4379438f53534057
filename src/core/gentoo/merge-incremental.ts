/**
 * Stacks incremental token lists the way Portage stacks USE (`config.regenerate`,
 * lib/portage/package/ebuild/config.py): layers apply in order (profile, make.conf, package.use, environment),
 * and within a layer
 *
 * - `-*` removes everything set so far;
 * - `-flag` removes `flag`; `-prefix_*` removes every flag starting with `prefix_` (USE_EXPAND groups such as
 *   `VIDEO_CARDS: -*`, which package.use turns into `-video_cards_*`);
 * - `prefix_*` enables every IUSE flag with that prefix when `iuse` is given (and is kept as written when none
 *   matches, as Portage keeps it);
 * - a leading `+` is dropped (Portage warns that it is not legal);
 * - anything else is added.
 *
 * The result keeps first-enabled order.
 */

export interface MergeIncrementalOptions {
  /** The package's IUSE (with or without `+`/`-` markers), used to expand `prefix_*` wildcards. */
  readonly iuse?: readonly string[];
}

export function mergeIncremental(
  layers: readonly (string | readonly string[])[],
  options: MergeIncrementalOptions = {},
): string[] {
  const flags = new Set<string>();
  const iuse = options.iuse?.map((flag) => flag.replace(/^[+-]/, ''));
  for (const layer of layers) {
    const tokens = typeof layer === 'string' ? layer.split(/\s+/) : layer;
    for (const written of tokens) {
      const token = written.startsWith('+') ? written.slice(1) : written;
      if (token === '') continue;
      if (token === '-*') {
        flags.clear();
      } else if (token.startsWith('-')) {
        const flag = token.slice(1);
        if (flag.endsWith('_*')) {
          const prefix = flag.slice(0, -1);
          for (const existing of [...flags]) if (existing.startsWith(prefix)) flags.delete(existing);
        }
        flags.delete(flag);
      } else if (token.endsWith('_*') && iuse !== undefined) {
        const prefix = token.slice(0, -1);
        const matching = iuse.filter((flag) => flag.startsWith(prefix));
        if (matching.length === 0) flags.add(token);
        for (const flag of matching) flags.add(flag);
      } else {
        flags.add(token);
      }
    }
  }
  return [...flags];
}
