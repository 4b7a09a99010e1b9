import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import { parseNative } from './native-parser.js';
import type { ImageLookup, NetworkLookup, SubstitutionContext } from './substitute.js';
import { substitute } from './substitute.js';
import { expectOneError } from './testing/assert-error.js';
import type { Template } from './types.js';
import { findVariables, replaceVariables } from './variables.js';

describe('replaceVariables / findVariables', () => {
  it('finds every form of reference', () => {
    const refs = findVariables('$A x$b_1 $V[sub] $NETWORK[ IP , network_id = 0 ] $N[IP, NETWORK="my net"]');
    assert.deepEqual(refs, [
      { name: 'A', source: '$A' },
      { name: 'B_1', source: '$b_1' },
      { name: 'V', sub: 'SUB', source: '$V[sub]' },
      { name: 'NETWORK', sub: 'IP', key: 'NETWORK_ID', value: '0', source: '$NETWORK[ IP , network_id = 0 ]' },
      { name: 'N', sub: 'IP', key: 'NETWORK', value: 'my net', source: '$N[IP, NETWORK="my net"]' },
    ]);
  });

  it('leaves $ before a non-letter, \\$ and malformed brackets literal', () => {
    const braced = '$\u007bY}'; // shell-style ${Y}, spelled so that linters do not take it for a template literal
    const out = replaceVariables(`$1 $$ $_X $ \\$HOME \\\\$HOME $X[@] $X[A, B] ${braced}`, (ref) => `<${ref.name}>`);
    assert.equal(out, `$1 $$ $_X $ \\$HOME \\\\<HOME> <X>[@] <X>[A, B] ${braced}`);
  });

  it('keeps a reference verbatim when the replacer returns undefined', () => {
    assert.equal(
      replaceVariables('a $X[Y] b $Z', (ref) => (ref.name === 'Z' ? 'z' : undefined)),
      'a $X[Y] b z',
    );
    assert.equal(
      replaceVariables('no dollars', () => 'x'),
      'no dollars',
    );
  });
});

const base: Template = {
  NAME: 'tmpl-name',
  MEMORY: '1024',
  DISK: [
    { IMAGE_ID: '3', TARGET: 'vda' },
    { IMAGE: 'data', TARGET: 'vdb' },
  ],
  NIC: [{ NETWORK_ID: '0' }, { NETWORK: 'private', NETWORK_ID: '5' }],
  CONTEXT: { X: 'plain' },
};

const networks: Record<string, Template> = {
  '0': { GATEWAY: '10.0.0.1' },
  '5': { GATEWAY: '10.5.0.1', NAME: 'private' },
};
const images: Record<string, Template> = { '3': { NAME: 'ubuntu', SIZE: '2048' }, data: { NAME: 'data', SIZE: '10' } };

function ctx(extra: Partial<SubstitutionContext> = {}): SubstitutionContext {
  return {
    vmId: 42,
    name: 'web-42',
    uid: 7,
    uname: 'alice',
    gid: 1,
    gname: 'users',
    resolver: {
      network: (l: NetworkLookup) => networks[l.nic?.NETWORK_ID ?? l.value],
      image: (l: ImageLookup) => images[l.value],
      user: () => ({ SSH_PUBLIC_KEY: 'ssh-ed25519 AAAA alice' }),
    },
    ...extra,
  };
}

function sub(context: Record<string, string>, c: SubstitutionContext = ctx()): Record<string, string> {
  return substitute({ ...base, CONTEXT: context }, c).CONTEXT as Record<string, string>;
}

describe('substitute', () => {
  it('replaces the predefined variables from the context', () => {
    assert.deepEqual(sub({ A: '$VMID $NAME $UID $UNAME $GID $GNAME' }), { A: '42 web-42 7 alice 1 users' });
  });

  it('falls back to template attributes, then to the empty string', () => {
    assert.deepEqual(sub({ A: '$NAME/$MEMORY/$HOME/$DISK' }, { vmId: 1 }), { A: 'tmpl-name/1024//' });
  });

  it('reads vector attributes, optionally selected by KEY=value', () => {
    assert.deepEqual(sub({ A: '$DISK[TARGET]', B: '$DISK[TARGET, IMAGE="data"]', C: '$DISK[TARGET, IMAGE_ID=9]' }), {
      A: 'vda',
      B: 'vdb',
      C: '',
    });
  });

  it('resolves $NETWORK, $IMAGE and $USER through the resolver', () => {
    assert.deepEqual(
      sub({
        GW: '$NETWORK[GATEWAY, NETWORK_ID=0]',
        GW2: '$NETWORK[GATEWAY, NETWORK="private"]',
        GW3: '$NETWORK[GATEWAY, NIC_ID=1]',
        IMG: '$IMAGE[NAME, IMAGE_ID=3] $IMAGE[SIZE, IMAGE=data]',
        KEY: '$USER[SSH_PUBLIC_KEY]',
        UNSET: '[$NETWORK[NOPE, NETWORK_ID=0]]',
      }),
      {
        GW: '10.0.0.1',
        GW2: '10.5.0.1',
        GW3: '10.5.0.1',
        IMG: 'ubuntu 10',
        KEY: 'ssh-ed25519 AAAA alice',
        UNSET: '[]',
      },
    );
  });

  it('passes the matching NIC or DISK to the resolver', () => {
    const seen: unknown[] = [];
    sub(
      { A: '$NETWORK[IP, NETWORK=private]', B: '$IMAGE[SIZE, IMAGE_ID=3]' },
      ctx({
        resolver: {
          network: (l) => {
            seen.push(l);
            return {};
          },
          image: (l) => {
            seen.push(l);
            return {};
          },
        },
      }),
    );
    assert.deepEqual(seen, [
      { key: 'NETWORK', value: 'private', nic: { NETWORK: 'private', NETWORK_ID: '5' } },
      { key: 'IMAGE_ID', value: '3', disk: { IMAGE_ID: '3', TARGET: 'vda' } },
    ]);
  });

  it('encodes TEMPLATE as base64 of the native text', () => {
    const out = sub({ T: '$TEMPLATE', U: '$USER[TEMPLATE]' });
    const decoded = Buffer.from(out.T!, 'base64').toString('utf8');
    assert.deepEqual(parseNative(decoded).template, { ...base, CONTEXT: { T: '$TEMPLATE', U: '$USER[TEMPLATE]' } });
    assert.equal(Buffer.from(out.U!, 'base64').toString('utf8'), 'SSH_PUBLIC_KEY = "ssh-ed25519 AAAA alice"\n');
  });

  it('substitutes single attributes and every occurrence, and does not re-scan inserted text', () => {
    const t = substitute({ A: '$B', B: '$C', C: 'c', L: ['$VMID', { X: '$VMID' }] }, ctx());
    assert.deepEqual(t, { A: '$C', B: 'c', C: 'c', L: ['42', { X: '42' }] });
  });

  it('throws E_TEMPLATE_SUBSTITUTION for an unresolvable object, with attribute and position', () => {
    const parsed = parseNative('NIC = [ NETWORK_ID = 0 ]\nCONTEXT = [\n  IP = "$NETWORK[IP, NETWORK_ID=99]" ]');
    const err = expectOneError(
      () => substitute(parsed.template, ctx({ positions: parsed.positions })),
      'E_TEMPLATE_SUBSTITUTION',
    );
    assert.deepEqual(err.details, {
      attribute: 'CONTEXT[0]/IP',
      reference: '$NETWORK[IP, NETWORK_ID=99]',
      line: 3,
      column: 3,
    });
    assert.match(err.message, /no such network/);
  });

  it('throws for object references without a usable selector or resolver', () => {
    expectOneError(() => sub({ A: '$NETWORK[IP]' }), 'E_TEMPLATE_SUBSTITUTION');
    expectOneError(() => sub({ A: '$IMAGE[SIZE, NETWORK_ID=0]' }), 'E_TEMPLATE_SUBSTITUTION');
    expectOneError(() => sub({ A: '$USER[X]' }, { resolver: {} }), 'E_TEMPLATE_SUBSTITUTION');
    expectOneError(() => sub({ A: '$IMAGE[SIZE, IMAGE_ID=404]' }), 'E_TEMPLATE_SUBSTITUTION');
  });

  it('substitutes the fixture CONTEXT', () => {
    const { template } = parseNative(VM_TEMPLATE_FIXTURE);
    const context = substitute(template, {
      ...ctx(),
      resolver: {
        network: (l) => (l.key === 'NETWORK' ? { IP: '203.0.113.10' } : { GATEWAY: '10.20.0.1' }),
        image: () => ({ NAME: 'ubuntu-22.04' }),
        user: () => ({ SSH_PUBLIC_KEY: 'ssh-ed25519 AAAA ops' }),
      },
    }).CONTEXT as Record<string, string>;
    assert.equal(context.SET_HOSTNAME, 'web-42');
    assert.equal(context.PUBLIC_IP, '203.0.113.10');
    assert.equal(context.MESH_GATEWAY, '10.20.0.1');
    assert.equal(context.OS_IMAGE, 'ubuntu-22.04');
    assert.ok(context.START_SCRIPT!.includes('proxy_set_header Host \\$host;'));
    assert.ok(context.START_SCRIPT!.includes('edge node web-42 ready (vm 42, owner alice)'));
  });
});
