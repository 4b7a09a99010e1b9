/** VLAN_TAGGED_ID: tags and ranges like "100,200-210", each 1-4094. */
const LIST = /^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/;

/** The tags a VLAN list (VLAN_TAGGED_ID) names, sorted; throws an Error saying what is wrong. */
export function parseVlanList(text: string): number[] {
  const compact = text.replace(/\s+/g, '');
  if (!LIST.test(compact)) throw new Error(`'${text}' is not a list of VLAN tags and ranges like 100,200-210`);
  const out = new Set<number>();
  for (const part of compact.split(',')) {
    const [a = 0, b = a] = part.split('-').map(Number);
    if (a < 1 || b > 4094 || a > b) throw new Error(`VLAN range '${part}' is not within 1-4094`);
    for (let v = a; v <= b; v++) out.add(v);
  }
  return [...out].sort((x, y) => x - y);
}
