// The clock that stamps files (a file server's, not this process's, which a
// test may fake): "now" is the mtime of a file created this instant, and a
// file is made N seconds old by setting its mtime against that, so a test
// ages a lock or a lease without waiting and without mixing clocks.

import fs from 'node:fs';
import path from 'node:path';

/** Now on the clock that stamps files in `dir`, in milliseconds. */
export function fileSystemNowMs(dir: string): number {
  const probe = path.join(dir, `.probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(probe, '');
  try {
    return fs.statSync(probe).mtimeMs;
  } finally {
    fs.unlinkSync(probe);
  }
}

/** Sets `file`'s mtime `seconds` before now on its file system's clock. */
export function ageOnFileSystem(file: string, seconds: number): void {
  const t = (fileSystemNowMs(path.dirname(file)) - seconds * 1000) / 1000;
  fs.utimesSync(file, t, t);
}
