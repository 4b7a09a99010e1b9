import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { parseNative } from './native-parser.js';
import { expectOneError } from './testing/assert-error.js';
import type { Template } from './types.js';
import { describeUserInputs, readUserInputs } from './user-input-definitions.js';
import { applyUserInputs } from './user-inputs.js';

function inputs(defs: Record<string, string>, extra: Template = {}): Template {
  return { ...extra, USER_INPUTS: defs, CONTEXT: Object.fromEntries(Object.keys(defs).map((k) => [k, `$${k}`])) };
}

function answer(defs: Record<string, string>, answers: Record<string, string>): Record<string, string> {
  return applyUserInputs(inputs(defs), answers).CONTEXT as Record<string, string>;
}

describe('describeUserInputs', () => {
  it('describes every type with typed options and defaults', () => {
    const { template } = parseNative(VM_TEMPLATE_FIXTURE);
    const described = describeUserInputs(template);
    const byName = Object.fromEntries(described.map((d) => [d.name, d]));
    assert.deepEqual(byName.DOMAIN, {
      name: 'DOMAIN',
      mandatory: true,
      type: 'text',
      description: 'Public DNS name of the proxy',
      default: 'edge.example.org',
      options: undefined,
    });
    assert.deepEqual(byName.WORKERS?.options, { min: 1, max: 16 });
    assert.deepEqual(byName.CACHE_RATIO?.options, { min: 0.1, max: 0.9 });
    assert.deepEqual(byName.TLS_MODE?.options, ['letsencrypt', 'self-signed', 'custom']);
    assert.equal(byName.MODULES?.default, 'brotli,headers-more');
    assert.equal(byName.ADMIN_PASSWORD?.default, undefined);
    assert.equal(byName.ENABLE_METRICS?.mandatory, false);
    assert.equal(byName.REGION?.type, 'fixed');
    assert.deepEqual(
      described.map((d) => d.type),
      [
        'text',
        'list',
        'range',
        'password',
        'boolean',
        'list',
        'range-float',
        'list-multiple',
        'text64',
        'fixed',
        'number',
        'number-float',
      ],
      'INPUTS_ORDER first, then definition order',
    );
  });

  it('accepts the short M|type|description form and | inside a default', () => {
    const [a, b] = describeUserInputs(inputs({ A: 'O|text|Just a description', B: 'M|text|d| |x|y' }));
    assert.deepEqual([a?.mandatory, a?.description, a?.default], [false, 'Just a description', undefined]);
    assert.equal(b?.default, 'x|y');
  });

  it('rejects malformed definitions with E_TEMPLATE_INVALID at the definition', () => {
    const cases: Record<string, RegExp> = {
      'X|text|d': /M \(mandatory\) or O/,
      'M|colour|d': /unknown type 'colour'/,
      'M|range|d|1-5|2': /min\.\.max/,
      'M|range|d|5..1|2': /above maximum/,
      'M|range|d|1..5|9': /bad default: 9 is outside the range 1\.\.5/,
      'M|range|d|1.5..5|2': /integers/,
      'M|list|d| |a': /needs options/,
      'M|list|d|a,b|c': /bad default: 'c' is not one of a, b/,
      'M|list-multiple|d|a,b|a,c': /'c' is not one of/,
      'M|boolean|d| |maybe': /not YES or NO/,
      'M|number|d| |1.5': /not an integer/,
      'M|number-float|d| |abc': /not a number/,
      justtext: /expected "M\|type/,
    };
    for (const [definition, pattern] of Object.entries(cases)) {
      const text = `A = 1\nUSER_INPUTS = [\n  OK = "O|text|fine",\n  BAD = "${definition}" ]`;
      const parsed = parseNative(text);
      const err = expectOneError(() => describeUserInputs(parsed.template, parsed.positions), 'E_TEMPLATE_INVALID');
      assert.match(err.message, pattern, definition);
      assert.deepEqual([err.details.attribute, err.details.line, err.details.column], ['USER_INPUTS[0]/BAD', 4, 3]);
    }
  });

  it('reports every malformed input and a USER_INPUTS that is not a vector', () => {
    assert.equal(readUserInputs(inputs({ A: 'bad', B: 'M|nope|x', C: 'O|text|ok' })).issues.length, 2);
    assert.equal(readUserInputs({ USER_INPUTS: 'x' }).issues[0]?.attribute, 'USER_INPUTS');
  });
});

describe('applyUserInputs', () => {
  it('fills answers and defaults into $NAME references and top-level attributes', () => {
    const t = inputs({ PORT: 'M|number|Port| |8080', USER: 'O|text|User' }, { MEMORY: '$PORT' });
    const out = applyUserInputs(t, { user: 'bob' });
    assert.deepEqual(out.CONTEXT, { PORT: '8080', USER: 'bob' });
    assert.equal(out.PORT, '8080');
    assert.equal(out.USER, 'bob');
    assert.equal(out.MEMORY, '8080');
    assert.deepEqual(out.USER_INPUTS, t.USER_INPUTS, 'definitions are kept unchanged');
  });

  it('leaves other references for substitute()', () => {
    const t: Template = { USER_INPUTS: { A: 'O|text|a' }, CONTEXT: { X: '$A $VMID $A[B] $NETWORK[IP, NETWORK_ID=0]' } };
    assert.equal(
      (applyUserInputs(t, { A: 'a' }).CONTEXT as Record<string, string>).X,
      'a $VMID $A[B] $NETWORK[IP, NETWORK_ID=0]',
    );
  });

  it('requires mandatory inputs without a default', () => {
    const err = expectOneError(() => answer({ PASS: 'M|password|Root password' }, {}), 'E_USER_INPUT');
    assert.deepEqual(err.details, { input: 'PASS' });
    assert.match(err.message, /PASS is mandatory: Root password/);
    expectOneError(() => answer({ PASS: 'M|password|p' }, { PASS: '' }), 'E_USER_INPUT');
    assert.deepEqual(answer({ OPT: 'O|text|o' }, {}), { OPT: '' });
  });

  it('validates and normalises answers by type', () => {
    const defs = {
      N: 'O|number|n',
      F: 'O|number-float|f',
      R: 'O|range|r|1..10',
      RF: 'O|range-float|rf|0.5..1.5',
      L: 'O|list|l|a,b,c',
      LM: 'O|list-multiple|lm|a,b,c',
      B: 'O|boolean|b',
      P: 'O|password|p',
    };
    assert.deepEqual(
      answer(defs, { N: '-3', F: '2.5e1', R: '10', RF: '0.5', L: 'b', LM: ' c, a ', B: 'yes', P: 'p|w"d' }),
      {
        N: '-3',
        F: '2.5e1',
        R: '10',
        RF: '0.5',
        L: 'b',
        LM: 'c,a',
        B: 'YES',
        P: 'p|w"d',
      },
    );
    const bad: [string, string, RegExp][] = [
      ['N', '1.5', /not an integer/],
      ['F', 'x', /not a number/],
      ['R', '11', /outside the range 1\.\.10/],
      ['R', '2.5', /not an integer/],
      ['RF', '2', /outside the range 0\.5\.\.1\.5/],
      ['L', 'd', /not one of a, b, c/],
      ['LM', 'a,d', /'d' is not one of/],
      ['B', 'true', /not YES or NO/],
    ];
    for (const [name, value, pattern] of bad) {
      const err = expectOneError(() => answer(defs, { [name]: value }), 'E_USER_INPUT');
      assert.equal(err.details.input, name);
      assert.match(err.message, pattern);
    }
  });

  it('base64-encodes text64 answers given as plain text', () => {
    assert.deepEqual(answer({ T: 'M|text64|banner' }, { T: 'héllo\nworld' }), {
      T: Buffer.from('héllo\nworld').toString('base64'),
    });
  });

  it('takes fixed inputs from their default and refuses other answers', () => {
    assert.deepEqual(answer({ R: 'O|fixed|region| |eu-1' }, {}), { R: 'eu-1' });
    assert.deepEqual(answer({ R: 'O|fixed|region| |eu-1' }, { R: 'eu-1' }), { R: 'eu-1' });
    const err = expectOneError(() => answer({ R: 'O|fixed|region| |eu-1' }, { R: 'us-1' }), 'E_USER_INPUT');
    assert.match(err.message, /fixed to 'eu-1'/);
  });

  it('rejects answers for unknown inputs', () => {
    const err = expectOneError(() => answer({ A: 'O|text|a' }, { B: 'x' }), 'E_USER_INPUT');
    assert.deepEqual(err.details, { input: 'B' });
  });

  it('answers the fixture', () => {
    const { template } = parseNative(VM_TEMPLATE_FIXTURE);
    const out = applyUserInputs(template, { ADMIN_PASSWORD: 's3cret', workers: '8', BANNER: 'Authorised use only' });
    const context = out.CONTEXT as Record<string, string>;
    assert.equal(context.WORKERS, '8');
    assert.equal(context.DOMAIN, 'edge.example.org');
    assert.equal(context.ENABLE_METRICS, 'YES');
    assert.equal(context.REGION, 'eu-south-2');
    assert.equal(Buffer.from(context.BANNER!, 'base64').toString(), 'Authorised use only');
    assert.ok(context.START_SCRIPT!.includes('worker_processes 8;'));
    assert.ok(context.START_SCRIPT!.includes('edge node $NAME ready'), 'non-input variables are left alone');
  });
});
