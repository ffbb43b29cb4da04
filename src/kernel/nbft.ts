import fs from 'node:fs';
import path from 'node:path';
import { checkRecord, invalidOption } from '../args.js';
import { errnoOf, isNvmfError, NvmfError } from '../errors.js';
import { decodeNbft, type NbftTable } from '../nbft/decode.js';
import type { Roots } from '../roots.js';
import { naturalCompare } from '../nvme/names.js';

/**
 * The NBFT tables the kernel exposes: `firmware/acpi/tables/NBFT`, `NBFT1`, `NBFT2`, ... under
 * the sysfs root (the kernel numbers the second and later tables of one signature). One bad
 * table does not hide the others: each is reported with its decoded value or its error, and
 * the caller decides what an unreadable boot table means (a safety decision fails safe).
 */
export interface NbftTableRead {
  /** The sysfs file name, `NBFT` or `NBFTn`. */
  name: string;
  path: string;
  table: NbftTable | null;
  /** ENBFT for a corrupt table, EIO when the file cannot be read (the tables are root-only). */
  error: NvmfError | null;
}

const TABLE_RE = /^NBFT([1-9][0-9]*)?$/;
/** No firmware table comes near this; a bigger file is not an NBFT worth reading. */
const TABLE_MAX = 16 * 1024 * 1024;

/** Directory of the ACPI tables under a sysfs root. */
export function acpiTablesDir(sysfs: string): string {
  return path.join(sysfs, 'firmware', 'acpi', 'tables');
}

/** Read and decode every NBFT table, in name order. No tables directory, or none there: []. */
export async function readNbftTables(roots: Pick<Roots, 'sysfs'>): Promise<NbftTableRead[]> {
  const sysfs = checkRecord(roots, 'readNbftTables', ['sysfs']).sysfs;
  if (typeof sysfs !== 'string' || sysfs === '')
    throw invalidOption('readNbftTables', 'roots.sysfs must be a path');
  const dir = acpiTablesDir(sysfs);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return [];
    throw new NvmfError('EIO', `cannot list the ACPI tables in ${dir}: ${errnoOf(e) ?? String(e)}`, {
      path: dir,
      errno: errnoOf(e),
    });
  }
  const tables = names.filter((n) => TABLE_RE.test(n)).sort(naturalCompare);
  const out: NbftTableRead[] = [];
  for (const name of tables) out.push(await readOne(dir, name));
  return out;
}

async function readOne(dir: string, name: string): Promise<NbftTableRead> {
  const file = path.join(dir, name);
  let bytes: Buffer;
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    if (st.size > TABLE_MAX) throw Object.assign(new Error(`${st.size} bytes`), { code: 'EFBIG' });
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    const errno = errnoOf(e) ?? 'EIO';
    const hint =
      errno === 'EACCES' || errno === 'EPERM' ? ' (the ACPI tables are readable by root only)' : '';
    return {
      name,
      path: file,
      table: null,
      error: new NvmfError('EIO', `cannot read NBFT table ${name} at ${file}: ${errno}${hint}`, {
        table: name,
        path: file,
        errno,
      }),
    };
  }
  try {
    return { name, path: file, table: decodeNbft(bytes, name), error: null };
  } catch (e) {
    if (isNvmfError(e, 'ENBFT')) return { name, path: file, table: null, error: e };
    throw e;
  }
}
