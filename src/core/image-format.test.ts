import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectImageFormat, parseImageFormat } from './image-format.js';

test('formats are told apart by their first bytes', () => {
  const qcow = new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  assert.equal(detectImageFormat(qcow), 'qcow2');
  const tar = new Uint8Array(512);
  tar.set(new TextEncoder().encode('ustar'), 257);
  assert.equal(detectImageFormat(tar), 'rootfs-tar');
  const iso = new Uint8Array(0x8010);
  iso.set(new TextEncoder().encode('CD001'), 0x8001);
  assert.equal(detectImageFormat(iso), 'iso');
  assert.equal(detectImageFormat(new Uint8Array(4096)), 'raw');
  assert.equal(detectImageFormat(new Uint8Array(0)), 'raw');
});

test('user spellings of formats', () => {
  assert.equal(parseImageFormat('QCOW2'), 'qcow2');
  assert.equal(parseImageFormat('tar'), 'rootfs-tar');
  assert.equal(parseImageFormat('vmdk'), undefined);
  assert.equal(parseImageFormat(undefined), undefined);
});
