/**
 * NVMe Qualified Names (NVMe base spec §4.7) and the host ID: the grammar every connect
 * option and every sysfs reading is held to.
 */

/** The well-known NQN of a discovery subsystem. */
export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

/** An NQN is at most 223 bytes of UTF-8. */
export const NQN_MAX_BYTES = 223;

/** A UUID as the host ID and the uuid NQN form spell it. */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const NQN_DATE_DOMAIN_RE =
  /^nqn\.(\d{4})-(\d{2})\.([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)(?::(.*))?$/s;
const NQN_UUID_PREFIX = 'nqn.2014-08.org.nvmexpress:uuid:';

/** Null if `nqn` is a valid NQN, else why not. */
export function nqnProblem(nqn: string): string | null {
  if (typeof nqn !== 'string') return 'it is not a string';
  const bytes = Buffer.byteLength(nqn, 'utf8');
  if (bytes === 0) return 'it is empty';
  if (bytes > NQN_MAX_BYTES) return `it is ${bytes} bytes, the limit is ${NQN_MAX_BYTES}`;
  if (/[\x00-\x1f\x7f,=]/.test(nqn))
    return 'it contains a control character, "," or "=" (the option string separators)';
  if (nqn === DISCOVERY_NQN) return null;
  if (nqn.startsWith(NQN_UUID_PREFIX)) {
    return UUID_RE.test(nqn.slice(NQN_UUID_PREFIX.length))
      ? null
      : 'the uuid form needs a UUID after "uuid:"';
  }
  const m = NQN_DATE_DOMAIN_RE.exec(nqn);
  if (m === null) return 'expected nqn.yyyy-mm.reverse.domain:name or nqn.2014-08.org.nvmexpress:uuid:<uuid>';
  const month = Number(m[2]);
  if (month < 1 || month > 12) return `month ${m[2]} is not 01-12`;
  if (m[4] !== undefined && m[4].length === 0) return 'nothing follows the ":"';
  return null;
}
