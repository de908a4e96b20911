// What is wrong with a file the config names, in words for the person fixing it.

import fs from 'node:fs';

export function describeFsError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `${path} cannot be read (permission denied)`;
    case 'ENOTDIR':
      return `${path} cannot exist: part of its directory path is a file`;
    case 'EISDIR':
      return `${path} is a directory`;
    default:
      return `${path} cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

/** Why `path` is not a readable file, or undefined when it is one. */
export function unreadableFile(path: string): string | undefined {
  try {
    if (!fs.statSync(path).isFile()) return `${path} is not a file`;
    fs.accessSync(path, fs.constants.R_OK);
    return undefined;
  } catch (err) {
    return describeFsError(path, err);
  }
}

/** A permission mode as chmod takes it, e.g. 0644. */
export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
