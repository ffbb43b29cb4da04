/**
 * Secret redaction, applied by the audit layer to every value it emits (defense in depth:
 * callers must not pass secrets, but a connect option string or a command line can carry
 * them by accident). Redaction works on values, not only on known field names, because an
 * option string such as `...,dhchap_secret=DHHC-1:00:...,` can end up inside any message.
 */

export const REDACTED = '<redacted>';

// A secret runs until a separator that cannot be part of it in any of the places it shows
// up: option strings (`,`), command lines (whitespace), JSON (`"`), shell quoting (`'`).
const SECRET_TAIL = String.raw`[^\s,"';]*`;

const PATTERNS: readonly [RegExp, string][] = [
  // DH-HMAC-CHAP secret representation (NVMe base spec 8.13.5.8): DHHC-1:<hmac>:<base64>:
  [new RegExp(`DHHC-1:${SECRET_TAIL}`, 'g'), `DHHC-1:${REDACTED}`],
  // TLS PSK interchange format (NVMe TCP transport spec 3.6.1.5): NVMeTLSkey-1:<hmac>:<base64>:
  [new RegExp(`NVMeTLSkey-1:${SECRET_TAIL}`, 'g'), `NVMeTLSkey-1:${REDACTED}`],
  // Option-string keys of /dev/nvme-fabrics and their CLI spellings, in key=value form.
  [
    new RegExp(
      `((?:--)?(?:dhchap[-_](?:ctrl[-_])?secret|tls[-_]key|keyring|tls[-_]keyring)=)${SECRET_TAIL}`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
  // The same keys as JSON properties: "dhchap_secret":"..."
  [
    /("(?:dhchap[-_](?:ctrl[-_])?secret|tls[-_]key|keyring|tls[-_]keyring)"\s*:\s*")(?:[^"\\]|\\.)*"/gi,
    `$1${REDACTED}"`,
  ],
];

/** A field or flag name whose value is secret whatever it looks like. */
const SECRET_NAME =
  /^(?:--?)?(?:dhchap[-_](?:ctrl[-_])?secret|tls[-_]key|keyring|tls[-_]keyring|tls[-_]psk|psk|secret|password)$/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The text with every secret it carries replaced by `<redacted>`. */
export function redactText(text: string): string {
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}

/**
 * A command line as one string with secrets redacted: values of secret flags given as a
 * separate argument (`--dhchap-secret VALUE`) as well as any secret-looking text.
 */
export function redactArgv(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    out.push(redactText(arg));
    if (isSecretName(arg) && i + 1 < argv.length) {
      out.push(REDACTED);
      i++;
    }
  }
  return out.join(' ');
}
