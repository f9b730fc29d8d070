import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiate, resultFormat, usageAsCsv } from './media-types.js';

const notAcceptable = { code: 'not_acceptable', status: 406 };

describe('negotiate', () => {
  const offered = ['application/gzip', 'application/json', 'image/png'];

  it('gives the first offered type without a header, or with one that holds no media range', () => {
    assert.equal(negotiate(undefined, offered), 'application/gzip');
    assert.equal(negotiate('', offered), 'application/gzip');
    assert.equal(negotiate(',,,;;;', offered), 'application/gzip');
    assert.equal(negotiate(undefined, []), null);
  });

  it('picks the heaviest q-value, not the first listed', () => {
    assert.equal(negotiate('application/json;q=0.5, image/png', offered), 'image/png');
    assert.equal(negotiate('image/png;q=0.2, application/json;q=0.9', offered), 'application/json');
    assert.equal(negotiate('image/png;q=0.001, application/json;q=0', offered), 'image/png');
  });

  it('on equal weight, takes the one the client listed first', () => {
    assert.equal(negotiate('application/json, image/png', offered), 'application/json');
    assert.equal(negotiate('image/png, application/json', offered), 'image/png');
    assert.equal(negotiate('image/png;q=0.5, application/json;q=0.5', offered), 'image/png');
  });

  it('treats q=0 as a refusal that a wildcard does not undo', () => {
    assert.equal(negotiate('image/png;q=0', offered), null);
    assert.equal(negotiate('*/*;q=0', offered), null);
    assert.equal(negotiate('image/png;q=0, image/*', ['image/png', 'image/jpeg']), 'image/jpeg');
    assert.equal(negotiate('application/gzip;q=0, */*', offered), 'application/json');
  });

  it('weighs a type by its most specific range, wherever that range stands', () => {
    // application/gzip has only */* (0.9); application/json is named at 0.1.
    assert.equal(negotiate('*/*;q=0.9, application/json;q=0.1', offered), 'application/gzip');
    assert.equal(negotiate('image/*;q=0.3, image/png;q=0.8', offered), 'image/png');
    assert.equal(
      negotiate('image/*;q=0.8, image/png;q=0.3, application/json;q=0.5', offered),
      'application/json',
    );
  });

  it('matches wildcards by main type, and the bare `*` some clients send', () => {
    assert.equal(negotiate('image/*', offered), 'image/png');
    assert.equal(negotiate('application/*', offered), 'application/gzip');
    assert.equal(negotiate('*/*', offered), 'application/gzip');
    assert.equal(negotiate('*; q=.2', offered), 'application/gzip');
    assert.equal(negotiate('text/*', offered), null);
  });

  it('ignores case and parameters other than q', () => {
    assert.equal(negotiate('IMAGE/PNG', offered), 'image/png');
    assert.equal(negotiate('application/json; charset=utf-8', offered), 'application/json');
    assert.equal(negotiate('image/png;level=1;q=0.4, application/json;q=0.3', offered), 'image/png');
  });

  it('counts a malformed weight as 1 and clamps one out of range (Hono parses it so)', () => {
    assert.equal(negotiate('application/json;q=0.5, image/png;q=abc', offered), 'image/png');
    assert.equal(negotiate('application/json;q=0.5, image/png;q=7', offered), 'image/png');
    assert.equal(negotiate('image/png;q=-1', offered), null);
  });

  it('offers nothing the client did not accept', () => {
    assert.equal(negotiate('text/html', offered), null);
    assert.equal(negotiate('text/html, image/jpeg;q=0.9', offered), null);
  });
});

describe('resultFormat (POST /v1/segment)', () => {
  it('answers NIfTI by default and for any wildcard that covers it', () => {
    assert.equal(resultFormat(undefined), 'nifti');
    assert.equal(resultFormat('*/*'), 'nifti');
    assert.equal(resultFormat('application/*'), 'nifti');
    assert.equal(resultFormat('application/x-nifti'), 'nifti');
  });

  it('answers PNG and JSON when asked, q-values included', () => {
    assert.equal(resultFormat('image/png'), 'png');
    assert.equal(resultFormat('image/*'), 'png');
    assert.equal(resultFormat('application/json'), 'json');
    assert.equal(resultFormat('application/gzip;q=0.1, application/json'), 'json');
  });

  it('is 406 when nothing it makes is acceptable, naming what it makes', () => {
    assert.throws(() => resultFormat('text/html'), {
      ...notAcceptable,
      message: 'Results come as application/gzip, application/x-nifti, application/json, image/png.',
    });
    assert.throws(() => resultFormat('image/png;q=0'), notAcceptable);
    assert.throws(() => resultFormat('*/*;q=0'), notAcceptable);
    assert.throws(
      () => resultFormat('application/gzip;q=0, application/x-nifti;q=0, application/json;q=0, image/*;q=0'),
      notAcceptable,
    );
  });
});

describe('usageAsCsv (GET /v1/usage)', () => {
  it('answers CSV only when the client prefers it to JSON', () => {
    assert.equal(usageAsCsv('text/csv'), true);
    assert.equal(usageAsCsv('text/*'), true);
    assert.equal(usageAsCsv('application/json;q=0.5, text/csv'), true);
    assert.equal(usageAsCsv('text/csv;q=abc'), true);
    assert.equal(usageAsCsv('text/csv, application/json'), true);
    assert.equal(usageAsCsv('application/json, text/csv'), false);
    assert.equal(usageAsCsv('text/csv;q=0.2, */*;q=0.5'), false);
  });

  it('falls back to JSON, never 406, when neither is acceptable', () => {
    assert.equal(usageAsCsv(undefined), false);
    assert.equal(usageAsCsv('*/*'), false);
    assert.equal(usageAsCsv('text/html'), false);
    assert.equal(usageAsCsv('text/csv;q=0'), false);
    assert.equal(usageAsCsv('*/*;q=0'), false);
  });
});
