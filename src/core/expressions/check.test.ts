import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectOneError } from '../template/testing/assert-error.js';
import type { Template } from '../template/types.js';
import { checkVmExpressions, findExpressionErrors, vmExpressions } from './check.js';
import { substituteExpressionVariables } from './substitute.js';

describe('$VAR substitution', () => {
  const t: Template = {
    MEMORY: '1024',
    CONTEXT: { ZONE: 'paris' },
    NIC: [
      { NETWORK_ID: '0', IP: '10.0.0.2' },
      { NETWORK_ID: '5', IP: '10.5.0.2' },
    ],
  };
  it('replaces the VM template attributes before parsing', () => {
    assert.equal(substituteExpressionVariables('FREE_MEMORY > $MEMORY', t), 'FREE_MEMORY > 1024');
    assert.equal(substituteExpressionVariables('ZONE = "$CONTEXT[ZONE]*"', t), 'ZONE = "paris*"');
    assert.equal(substituteExpressionVariables('IP = "$NIC[IP, NETWORK_ID=5]"', t), 'IP = "10.5.0.2"');
    assert.equal(substituteExpressionVariables('CURRENT_VMS != $VMID', t, { VMID: '7' }), 'CURRENT_VMS != 7');
    assert.equal(substituteExpressionVariables('X = "$NOPE"', t), 'X = ""');
    assert.equal(substituteExpressionVariables('X = $NOPE', t, {}, '0'), 'X = 0');
  });
});

describe('checkVmExpressions', () => {
  it('accepts a template whose expressions all parse', () => {
    const t: Template = {
      MEMORY: '512',
      SCHED_REQUIREMENTS: 'HYPERVISOR = "kvm" & FREE_MEMORY > $MEMORY',
      SCHED_RANK: 'FREE_CPU',
      SCHED_DS_REQUIREMENTS: 'NAME = "ssd*"',
      SCHED_DS_RANK: '-USED_MB',
      NIC: [{ NETWORK_MODE: 'auto', SCHED_REQUIREMENTS: 'TRAFFIC = "private"', SCHED_RANK: '-USED_LEASES' }],
    };
    checkVmExpressions(t);
    assert.deepEqual(
      vmExpressions(t).map((e) => e.attribute),
      [
        'SCHED_REQUIREMENTS',
        'SCHED_RANK',
        'SCHED_DS_REQUIREMENTS',
        'SCHED_DS_RANK',
        'NIC[0]/SCHED_REQUIREMENTS',
        'NIC[0]/SCHED_RANK',
      ],
    );
    assert.equal(vmExpressions(t)[0]!.source, 'HYPERVISOR = "kvm" & FREE_MEMORY > 512');
  });

  it('refuses the first malformed expression with its attribute and column', () => {
    const err = expectOneError(
      () => checkVmExpressions({ MEMORY: '1', SCHED_REQUIREMENTS: 'FREE_CPU > 60 & NAME =' }),
      'E_EXPRESSION_SYNTAX',
    );
    assert.equal(err.message, 'SCHED_REQUIREMENTS: column 23: expected a value after =, found end of input');
    assert.deepEqual(err.details, { attribute: 'SCHED_REQUIREMENTS', column: 23, expected: 'value' });
    assert.equal(err.status, 400);
  });

  it('checks NIC expressions and ranks too', () => {
    const t: Template = {
      SCHED_RANK: 'FREE_CPU +',
      NIC: [{ NETWORK_ID: '1' }, { NETWORK_MODE: 'auto', SCHED_REQUIREMENTS: 'A ==' }],
    };
    const errors = findExpressionErrors(t);
    assert.deepEqual(
      errors.map((e) => e.details.attribute),
      ['SCHED_RANK', 'NIC[1]/SCHED_REQUIREMENTS'],
    );
  });

  it('an unresolved $VAR reads empty (OpenNebula), or 0 when variables are deferred', () => {
    const t: Template = { SCHED_REQUIREMENTS: 'FREE_MEMORY > $ASKED' };
    expectOneError(() => checkVmExpressions(t), 'E_EXPRESSION_SYNTAX');
    checkVmExpressions(t, { deferVariables: true });
  });
});
