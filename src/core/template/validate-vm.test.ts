import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VM_TEMPLATE_FIXTURE } from './fixtures/vm-template.js';
import type { TemplateIssue } from './issues.js';
import { parseNative } from './native-parser.js';
import { expectOneError } from './testing/assert-error.js';
import { validateVmTemplate } from './validate-vm.js';

function issues(text: string): TemplateIssue[] {
  const err = expectOneError(() => validateVmTemplate(parseNative(text)), 'E_TEMPLATE_INVALID');
  return err.details.errors as TemplateIssue[];
}

function firstIssue(text: string): TemplateIssue {
  return issues(text)[0]!;
}

describe('validateVmTemplate', () => {
  it('accepts the fixture and returns its image and network references with positions', () => {
    const { references } = validateVmTemplate(parseNative(VM_TEMPLATE_FIXTURE));
    assert.deepEqual(references, [
      { kind: 'image', by: 'id', id: 12, attribute: 'DISK[0]/IMAGE_ID', line: 24, column: 3 },
      {
        kind: 'image',
        by: 'name',
        name: 'nginx-cache',
        ownerName: 'ops',
        attribute: 'DISK[1]/IMAGE',
        line: 35,
        column: 3,
      },
      {
        kind: 'image',
        by: 'name',
        name: 'ubuntu-22.04-live',
        ownerId: 0,
        attribute: 'DISK[4]/IMAGE',
        line: 53,
        column: 3,
      },
      {
        kind: 'network',
        by: 'name',
        name: 'edge-public',
        ownerName: 'oneadmin',
        attribute: 'NIC[0]/NETWORK',
        line: 62,
        column: 3,
      },
      { kind: 'network', by: 'id', id: 7, attribute: 'NIC[1]/NETWORK_ID', line: 71, column: 3 },
      { kind: 'network', by: 'id', id: 7, attribute: 'NIC_ALIAS[0]/NETWORK_ID', line: 77, column: 3 },
    ]);
  });

  it('requires MEMORY as a positive integer', () => {
    assert.deepEqual(firstIssue('CPU = 1'), { attribute: 'MEMORY', message: 'is required' });
    assert.deepEqual(firstIssue('CPU = 1\nMEMORY = 1.5'), {
      attribute: 'MEMORY',
      message: "must be a positive integer, got '1.5'",
      line: 2,
      column: 1,
    });
    assert.equal(firstIssue('MEMORY = 0').message, "must be a positive integer, got '0'");
    assert.equal(firstIssue('MEMORY = [ A = 1 ]').message, 'must be a single value, not a vector');
    assert.equal(firstIssue('MEMORY = 1\nMEMORY = 2').attribute, 'MEMORY[1]');
  });

  it('checks CPU, VCPU and USER_PRIORITY', () => {
    assert.equal(firstIssue('MEMORY = 1\nCPU = 0').attribute, 'CPU');
    assert.equal(firstIssue('MEMORY = 1\nCPU = -1').attribute, 'CPU');
    assert.equal(firstIssue('MEMORY = 1\nVCPU = 1.5').attribute, 'VCPU');
    assert.equal(firstIssue('MEMORY = 1\nUSER_PRIORITY = 128').message, "must be an integer in -128..127, got '128'");
    validateVmTemplate(parseNative('MEMORY = 1\nCPU = .25\nVCPU = 4\nUSER_PRIORITY = -128'));
  });

  it('checks DISKs: image by id or name, or a volatile disk with SIZE', () => {
    const ok = validateVmTemplate(
      parseNative('MEMORY = 1\nDISK = [ IMAGE = "x", IMAGE_UID = 3 ]\nDISK = [ TYPE = FS, SIZE = 10 ]'),
    );
    assert.deepEqual(ok.references[0], {
      kind: 'image',
      by: 'name',
      name: 'x',
      ownerId: 3,
      attribute: 'DISK[0]/IMAGE',
      line: 2,
      column: 10,
    });
    assert.deepEqual(firstIssue('MEMORY = 1\nDISK = [\n  IMAGE_ID = "abc" ]'), {
      attribute: 'DISK[0]/IMAGE_ID',
      message: "must be a non-negative integer, got 'abc'",
      line: 3,
      column: 3,
    });
    assert.equal(
      firstIssue('MEMORY = 1\nDISK = [ TARGET = vda ]').message,
      'needs IMAGE_ID, IMAGE, or TYPE=fs|swap with SIZE',
    );
    assert.equal(
      firstIssue('MEMORY = 1\nDISK = [ TYPE = swap ]').message,
      'a volatile disk (TYPE=swap) needs SIZE in MB',
    );
    assert.equal(firstIssue('MEMORY = 1\nDISK = [ TYPE = block, SIZE = 1 ]').attribute, 'DISK[0]/TYPE');
    assert.equal(firstIssue('MEMORY = 1\nDISK = [ TYPE = fs, SIZE = 0 ]').attribute, 'DISK[0]/SIZE');
    assert.equal(firstIssue('MEMORY = 1\nDISK = [ IMAGE = " " ]').attribute, 'DISK[0]/IMAGE');
    assert.equal(firstIssue('MEMORY = 1\nDISK = "vda"').message, 'must be a vector: DISK = [ ... ]');
  });

  it('checks NICs: NETWORK_ID, NETWORK or NETWORK_MODE=auto; NIC_ALIAS needs PARENT', () => {
    const { references } = validateVmTemplate(
      parseNative('MEMORY = 1\nNIC = [ NETWORK_MODE = AUTO ]\nNIC = [ NETWORK = "lan", NETWORK_UID = 0 ]'),
    );
    assert.deepEqual(
      references.map((r) => [r.attribute, r.name, r.ownerId]),
      [['NIC[1]/NETWORK', 'lan', 0]],
    );
    assert.equal(
      firstIssue('MEMORY = 1\nNIC = [ IP = 1.2.3.4 ]').message,
      'NIC needs NETWORK_ID, NETWORK, or NETWORK_MODE=auto',
    );
    assert.equal(firstIssue('MEMORY = 1\nNIC = [ NETWORK_ID = -1 ]').attribute, 'NIC[0]/NETWORK_ID');
    assert.equal(
      firstIssue('MEMORY = 1\nNIC_ALIAS = [ NETWORK_ID = 1 ]').message,
      'needs PARENT (the NAME of the NIC it is an alias of)',
    );
  });

  it('checks GRAPHICS, TOPOLOGY and single-occurrence vectors', () => {
    validateVmTemplate(parseNative('MEMORY = 1\nGRAPHICS = [ TYPE = Spice, PORT = 5900 ]'));
    assert.equal(
      firstIssue('MEMORY = 1\nGRAPHICS = [ TYPE = rdp ]').message,
      "must be one of VNC, SPICE (any case), got 'rdp'",
    );
    assert.equal(firstIssue('MEMORY = 1\nGRAPHICS = [ LISTEN = 0.0.0.0 ]').message, 'needs TYPE (vnc or spice)');
    assert.equal(firstIssue('MEMORY = 1\nGRAPHICS = [ TYPE = vnc, PORT = 70000 ]').attribute, 'GRAPHICS[0]/PORT');
    assert.equal(firstIssue('MEMORY = 1\nTOPOLOGY = [ PIN_POLICY = pinned ]').attribute, 'TOPOLOGY[0]/PIN_POLICY');
    assert.equal(firstIssue('MEMORY = 1\nTOPOLOGY = [ CORES = two ]').attribute, 'TOPOLOGY[0]/CORES');
    assert.equal(
      firstIssue('MEMORY = 1\nTOPOLOGY = [ MEMORY_ACCESS = public ]').attribute,
      'TOPOLOGY[0]/MEMORY_ACCESS',
    );
    validateVmTemplate(
      parseNative('MEMORY = 1\nTOPOLOGY = [ SOCKETS = 1, CORES = 2, THREADS = 2, PIN_POLICY = thread ]'),
    );
    assert.equal(firstIssue('MEMORY = 1\nCONTEXT = [ A = 1 ]\nCONTEXT = [ B = 2 ]').attribute, 'CONTEXT[1]');
  });

  it('includes malformed USER_INPUTS', () => {
    assert.equal(firstIssue('MEMORY = 1\nUSER_INPUTS = [ A = "M|bogus|x" ]').attribute, 'USER_INPUTS[0]/A');
  });

  it('collects every problem, names the first in the message and counts the rest', () => {
    const text = 'CPU = x\nDISK = [ TARGET = vda ]\nNIC = [ ]\nGRAPHICS = [ TYPE = rdp ]';
    const err = expectOneError(() => validateVmTemplate(parseNative(text)), 'E_TEMPLATE_INVALID');
    assert.equal(err.message, 'MEMORY: is required (and 4 more)');
    assert.deepEqual(
      (err.details.errors as TemplateIssue[]).map((e) => e.attribute),
      ['MEMORY', 'CPU', 'DISK[0]', 'NIC[0]', 'GRAPHICS[0]/TYPE'],
    );
    const second = expectOneError(() => validateVmTemplate(parseNative('MEMORY = 1\nCPU = x')), 'E_TEMPLATE_INVALID');
    assert.equal(second.message, "CPU: must be a positive number, got 'x' (line 2, column 1)");
    assert.deepEqual([second.details.attribute, second.details.line, second.details.column], ['CPU', 2, 1]);
  });

  it('defers $VARIABLE values and references when registering a template, never for a VM', () => {
    const text = 'MEMORY = "$MEM"\nCPU = "$C"\nDISK = [ IMAGE_ID = "$IMG" ]\nDISK = [ IMAGE_ID = 3 ]';
    const { references } = validateVmTemplate(parseNative(text), { deferVariables: true });
    assert.deepEqual(
      references.map((r) => r.id),
      [3],
    );
    const err = expectOneError(() => validateVmTemplate(parseNative(text)), 'E_TEMPLATE_INVALID');
    assert.equal(err.details.attribute, 'MEMORY');
  });

  it('refuses a user input named like a vector attribute (its answer would replace the vector)', () => {
    const err = expectOneError(
      () => validateVmTemplate(parseNative('MEMORY = 1\nUSER_INPUTS = [ FEATURES = "O|text|f" ]')),
      'E_TEMPLATE_INVALID',
    );
    assert.equal(err.details.attribute, 'USER_INPUTS[0]/FEATURES');
  });
});
