/**
 * `OS = [ KERNEL_DS = "$FILE[IMAGE=…]", INITRD_DS = "$FILE[IMAGE_ID=…]" ]`:
 * the kernel and initrd of a VM as images of a files datastore, resolved when
 * the VM is created (as OpenNebula's oned does) into `KERNEL_ID`/`INITRD_ID`
 * and `KERNEL_DS_ID`/`INITRD_DS_ID` on the OS vector; the text as written is
 * kept. A KERNEL_DS must name a KERNEL image and an INITRD_DS a RAMDISK
 * image, both in a FILE datastore and usable by the VM's owner.
 *
 * Reference forms: `$FILE[IMAGE=name]` (optionally `, IMAGE_UNAME=user` or
 * `, IMAGE_UID=n`; without an owner the VM owner's image, else any visible
 * one by that name) and `$FILE[IMAGE_ID=n]`; values may be quoted.
 */
import { OneError } from '../../core/errors.js';
import type { PoolObject } from '../../core/model.js';
import type { Principal } from '../../core/permissions.js';
import { getVector, setValue } from '../../core/template/index.js';
import type { Template, TemplateVector } from '../../core/template/types.js';
import type { TxStore } from '../../store/index.js';

const FILE_REF = /^\s*\$FILE\[([^\]]*)\]\s*$/i;
const ARG = /^\s*([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s"]+))\s*$/;

/** The key=value pairs of a `$FILE[…]` reference, or undefined when the text is not one. */
export function parseFileRef(text: string): Record<string, string> | undefined {
  const m = FILE_REF.exec(text);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const part of (m[1] ?? '').split(',')) {
    const a = ARG.exec(part);
    if (!a) return undefined;
    out[(a[1] as string).toUpperCase()] = a[2] ?? a[3] ?? '';
  }
  return out;
}

const WANTED = [
  ['KERNEL_DS', 'KERNEL', 'KERNEL'],
  ['INITRD_DS', 'INITRD', 'RAMDISK'],
] as const;

export async function resolveOsFiles(
  tx: TxStore,
  who: Principal,
  template: Template,
  canUse: (image: PoolObject<'image'>) => boolean,
): Promise<Template> {
  const os = getVector(template, 'OS');
  if (!os || (os.KERNEL_DS === undefined && os.INITRD_DS === undefined)) return template;
  const out: TemplateVector = { ...os };
  for (const [attr, prefix, type] of WANTED) {
    const text = os[attr];
    if (text === undefined) continue;
    const bad = (message: string) =>
      new OneError('E_TEMPLATE_INVALID', `OS/${attr}: ${message}`, { attribute: `OS/${attr}` });
    const ref = parseFileRef(text);
    if (!ref || (ref.IMAGE === undefined && ref.IMAGE_ID === undefined)) {
      throw bad(`${JSON.stringify(text)} must be $FILE[IMAGE=name] or $FILE[IMAGE_ID=n]`);
    }
    const image = await findImage(tx, who, ref);
    if (!image || !canUse(image)) throw bad(`image ${ref.IMAGE_ID ?? ref.IMAGE} does not exist or you may not use it`);
    if (image.body.type !== type)
      throw bad(`image ${image.id} (${image.name}) is a ${image.body.type} image, not ${type}`);
    const ds = await tx.get('datastore', image.body.datastore_id);
    if (ds?.body.type !== 'FILE') throw bad(`image ${image.id} (${image.name}) is not in a files datastore`);
    if (!image.body.sha256) throw bad(`image ${image.id} (${image.name}) has no content yet`);
    out[`${prefix}_ID`] = String(image.id);
    out[`${prefix}_DS_ID`] = String(image.body.datastore_id);
  }
  return setValue(template, 'OS', out);
}

async function findImage(
  tx: TxStore,
  who: Principal,
  ref: Record<string, string>,
): Promise<PoolObject<'image'> | undefined> {
  if (ref.IMAGE_ID !== undefined) {
    return /^\d+$/.test(ref.IMAGE_ID) ? tx.get('image', Number(ref.IMAGE_ID)) : undefined;
  }
  const images = await tx.list('image', { visibleTo: who });
  let uid: number | undefined;
  if (ref.IMAGE_UID !== undefined) uid = Number(ref.IMAGE_UID);
  else if (ref.IMAGE_UNAME !== undefined) {
    uid = (await tx.list('user')).find((u) => u.name === ref.IMAGE_UNAME)?.id ?? -1;
  }
  if (uid !== undefined) return images.find((i) => i.name === ref.IMAGE && i.uid === uid);
  return images.find((i) => i.name === ref.IMAGE && i.uid === who.uid) ?? images.find((i) => i.name === ref.IMAGE);
}
