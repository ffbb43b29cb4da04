/**
 * The kernel's side of the option string, as the sim needs it: the names `/dev/nvme-fabrics`
 * advertises (6.1's list; newer kernels add TLS), which take no value, and which are integers.
 * Parsing is as strict as the kernel's match_token loop: an unknown name or a malformed
 * value fails the whole write with EINVAL.
 */
export const KERNEL_61_OPTIONS =
  'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,' +
  'reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,host_iface=%s,' +
  'hostid=%s,duplicate_connect,disable_sqflow,hdr_digest,data_digest,nr_write_queues=%d,' +
  'nr_poll_queues=%d,tos=%d,fast_io_fail_tmo=%d,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s';

export interface ParsedOptions {
  transport: string;
  nqn: string;
  traddr?: string;
  trsvcid?: string;
  host_traddr?: string;
  host_iface?: string;
  hostnqn?: string;
  hostid?: string;
  duplicate_connect: boolean;
  discovery: boolean;
  ctrl_loss_tmo?: number;
  reconnect_delay?: number;
  /** Everything else that parsed, secrets excluded (they are only checked for presence). */
  other: Record<string, string | true>;
}

const SECRET = new Set(['dhchap_secret', 'dhchap_ctrl_secret', 'tls_key', 'keyring']);

/** `{ name: 'd' | 's' | 'flag' }` from the advertised template. */
export function optionTable(template: string): Map<string, 'd' | 's' | 'flag'> {
  const t = new Map<string, 'd' | 's' | 'flag'>();
  for (const part of template.split(',')) {
    const [name, fmt] = part.split('=');
    if (!name || name === 'instance' || name === 'cntlid') continue;
    t.set(name, fmt === '%d' ? 'd' : fmt === undefined ? 'flag' : 's');
  }
  return t;
}

/** Returns the parsed options, or a reason (never containing values) for EINVAL. */
export function parseKernelOptions(
  text: string,
  table: Map<string, 'd' | 's' | 'flag'>,
): ParsedOptions | { invalid: string } {
  const body = text.replace(/\n$/, '');
  if (body === '' || body.length > 4096) return { invalid: 'empty or oversized option string' };
  const seen: Record<string, string | true> = {};
  for (const tok of body.split(',')) {
    if (tok === '') continue; // the kernel's strsep loop skips empty tokens
    const eq = tok.indexOf('=');
    const name = eq < 0 ? tok : tok.slice(0, eq);
    const kind = table.get(name);
    if (kind === undefined)
      return { invalid: `unknown option "${name.slice(0, 32).replace(/[^\x20-\x7e]/g, '?')}"` };
    if (kind === 'flag') {
      if (eq >= 0) return { invalid: `option ${name} takes no value` };
      seen[name] = true;
      continue;
    }
    if (eq < 0) return { invalid: `option ${name} needs a value` };
    const value = tok.slice(eq + 1);
    if (kind === 'd' && !/^-?\d{1,10}$/.test(value)) return { invalid: `option ${name} needs an integer` };
    if (kind === 's' && (value === '' || !/^[\x21-\x7e]+$/.test(value)))
      return { invalid: `option ${name} has an empty or non-printable value` };
    seen[name] = value;
  }
  const transport = seen['transport'];
  const nqn = seen['nqn'];
  if (typeof transport !== 'string') return { invalid: 'transport missing' };
  if (typeof nqn !== 'string') return { invalid: 'nqn missing' };
  if (nqn.length > 223) return { invalid: 'nqn longer than 223 bytes' };
  if (typeof seen['hostnqn'] === 'string' && seen['hostnqn'].length > 223)
    return { invalid: 'hostnqn longer than 223 bytes' };
  if (
    typeof seen['hostid'] === 'string' &&
    !/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(seen['hostid'])
  ) {
    return { invalid: 'hostid is not a UUID' };
  }
  const other: Record<string, string | true> = {};
  for (const [k, v] of Object.entries(seen)) if (!SECRET.has(k)) other[k] = v;
  const s = (k: string): string | undefined =>
    typeof seen[k] === 'string' ? (seen[k] as string) : undefined;
  const out: ParsedOptions = {
    transport,
    nqn,
    duplicate_connect: seen['duplicate_connect'] === true,
    discovery: seen['discovery'] === true,
    other,
  };
  for (const k of ['traddr', 'trsvcid', 'host_traddr', 'host_iface', 'hostnqn', 'hostid'] as const) {
    const v = s(k);
    if (v !== undefined) out[k] = v;
  }
  if (s('ctrl_loss_tmo') !== undefined) out.ctrl_loss_tmo = Number(s('ctrl_loss_tmo'));
  if (s('reconnect_delay') !== undefined) {
    // nvmf_parse_options refuses a delay that is not positive.
    const d = Number(s('reconnect_delay'));
    if (d <= 0) return { invalid: 'reconnect_delay must be positive' };
    out.reconnect_delay = d;
  }
  return out;
}
