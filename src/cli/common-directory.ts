// The deepest directory that holds every one of a set of absolute paths,
// compared segment by segment: /srv/out/example.com and
// /srv/out/example.com.tr share /srv/out, not /srv/out/example.com.

import { parse, sep } from 'node:path';

/** The deepest common ancestor (or the path itself when there is one); '' for none, or paths on different roots. */
export function commonDirectory(paths: readonly string[]): string {
  const split = paths.map((p) => {
    const { root } = parse(p);
    return { root, segments: p.slice(root.length).split(sep).filter((s) => s !== '') };
  });
  const [first, ...rest] = split;
  if (!first || rest.some((p) => p.root !== first.root)) return '';
  let depth = first.segments.length;
  for (const p of rest) {
    let same = 0;
    while (same < depth && same < p.segments.length && p.segments[same] === first.segments[same]) same++;
    depth = same;
  }
  return first.root + first.segments.slice(0, depth).join(sep);
}
