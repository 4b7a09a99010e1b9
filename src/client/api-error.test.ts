import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, codeForStatus, errorFromResponse } from './api-error.js';

describe('errorFromResponse', () => {
  it('keeps the code, message, details and status of the API error shape', () => {
    const body = JSON.stringify({
      error: { code: 'E_TEMPLATE_SYNTAX', message: 'line 2, column 3: oops', details: { line: 2, column: 3 } },
    });
    const err = errorFromResponse(400, body, 'http://x/api/v1/templates');
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'E_TEMPLATE_SYNTAX');
    assert.equal(err.message, 'line 2, column 3: oops');
    assert.deepEqual(err.details, { line: 2, column: 3 });
    assert.equal(err.status, 400);
    assert.equal(err.exitCode, 2);
  });

  it('maps a foreign body by status and quotes it', () => {
    const err = errorFromResponse(502, '<html>bad gateway</html>', 'http://x/api/v1/vms');
    assert.equal(err.code, 'E_UNAVAILABLE');
    assert.match(err.message, /HTTP 502 from http:\/\/x\/api\/v1\/vms: <html>bad gateway/);
  });

  it('does not trust an unknown code', () => {
    const err = errorFromResponse(404, '{"error":{"code":"E_WHAT","message":"m","details":{}}}', 'u');
    assert.equal(err.code, 'E_NOT_FOUND');
  });
});

describe('codeForStatus', () => {
  it('picks the registry code for a status', () => {
    assert.equal(codeForStatus(401), 'E_UNAUTHENTICATED');
    assert.equal(codeForStatus(403), 'E_FORBIDDEN');
    assert.equal(codeForStatus(409), 'E_CONFLICT');
    assert.equal(codeForStatus(503), 'E_UNAVAILABLE');
    assert.equal(codeForStatus(500), 'E_INTERNAL');
    assert.equal(codeForStatus(418), 'E_BAD_REQUEST');
  });
});
