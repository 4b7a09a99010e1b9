import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFileRef } from './os-files.js';

describe('$FILE references of OS/KERNEL_DS and OS/INITRD_DS', () => {
  it('reads IMAGE, IMAGE_ID and the owner selectors, quoted or bare', () => {
    assert.deepEqual(parseFileRef('$FILE[IMAGE=oneedge-kernel]'), { IMAGE: 'oneedge-kernel' });
    assert.deepEqual(parseFileRef('$FILE[IMAGE="my kernel", IMAGE_UNAME=oneadmin]'), {
      IMAGE: 'my kernel',
      IMAGE_UNAME: 'oneadmin',
    });
    assert.deepEqual(parseFileRef(' $file[ image_id = 7 ] '), { IMAGE_ID: '7' });
  });

  it('refuses anything else', () => {
    for (const bad of [
      '/boot/vmlinuz',
      '$FILE',
      '$FILE[]',
      '$FILE[IMAGE=a] x',
      '$IMAGE[IMAGE=a]',
      '$FILE[IMAGE=a;b c]',
    ]) {
      assert.equal(parseFileRef(bad), undefined, bad);
    }
  });
});
