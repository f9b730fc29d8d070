// PAGE_FRAME_ANCESTORS (web/frame-ancestors.mjs, run by the page's build): unset, the page's headers
// are as committed; set, the page's CSP gains a frame-ancestors directive with exactly those sources,
// and a value that would add anything else (another directive, a header line) stops the build.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/goldens.js';

const { withFrameAncestors } = (await import(`${REPO_ROOT}web/frame-ancestors.mjs`)) as {
  withFrameAncestors: (headers: string, value: string | undefined) => string;
};
const HEADERS = readFileSync(`${REPO_ROOT}web/_headers`, 'utf8');
const csp = (headers: string) => /Content-Security-Policy: (.*)$/m.exec(headers)![1];

test('unset or blank, the headers are as committed', () => {
  assert.equal(withFrameAncestors(HEADERS, undefined), HEADERS);
  assert.equal(withFrameAncestors(HEADERS, '  '), HEADERS);
  assert.doesNotMatch(csp(HEADERS), /frame-ancestors/);
});

test('set, the page CSP names exactly those framers and keeps the rest', () => {
  const out = withFrameAncestors(HEADERS, " 'self'  https://app.example.com https://*.clinic.example:8443 ");
  assert.equal(
    csp(out),
    `${csp(HEADERS)}; frame-ancestors 'self' https://app.example.com https://*.clinic.example:8443`,
  );
  assert.equal(out.split('\n').length, HEADERS.split('\n').length, 'no line added');
  assert.match(csp(withFrameAncestors(HEADERS, "'none'")), /; frame-ancestors 'none'$/);
});

test('anything but a list of sources stops the build', () => {
  for (const value of [
    'https://x.example; script-src *',
    'https://x.example\n  X-Other: 1',
    'https://x.example,https://y.example',
    'javascript:alert(1)',
    '*',
    "'none' https://x.example",
  ]) {
    assert.throws(() => withFrameAncestors(HEADERS, value), /PAGE_FRAME_ANCESTORS/, JSON.stringify(value));
  }
});
