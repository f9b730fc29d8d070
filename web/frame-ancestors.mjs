// Who may frame the page: `PAGE_FRAME_ANCESTORS` at build time (docs/page.md "Embedding"). Unset, the
// page may be framed by any site, as third-party apps embed it; a deployment that knows its
// integrators' origins names them, so no other site can frame a patient's upload page.

/** One CSP source: 'self', 'none', or a scheme://host[:port] origin (host may start with `*.`). */
const SOURCE = /^(?:'self'|'none'|https?:\/\/(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?)$/i;

/**
 * `headers` (web/_headers) with `frame-ancestors <value>` appended to the page's
 * Content-Security-Policy. Throws on a value that is not a space-separated list of sources, so
 * nothing else (another directive, a header line) can reach the file.
 */
export function withFrameAncestors(headers, value) {
  if (value === undefined || value.trim() === '') return headers;
  const sources = value.trim().split(/\s+/);
  const bad = sources.find((s) => !SOURCE.test(s));
  if (bad !== undefined) {
    throw new Error(
      `PAGE_FRAME_ANCESTORS: '${bad}' is not a source ('self', 'none' or an origin such as https://app.example.com)`,
    );
  }
  if (sources.includes("'none'") && sources.length > 1) {
    throw new Error("PAGE_FRAME_ANCESTORS: 'none' cannot be listed with other sources");
  }
  let found = 0;
  const out = headers.replace(/^(\s+Content-Security-Policy: .*?);?\s*$/m, (_, csp) => {
    found++;
    return `${csp}; frame-ancestors ${sources.join(' ')}`;
  });
  if (found !== 1) throw new Error('web/_headers: no Content-Security-Policy line to extend');
  return out;
}
