import type { ObjectKind } from '../api';
import { usePool } from '../data/hooks';
import { hrefOf } from '../pages/kind-columns';
import { Link } from '../router';

/** A link to another object by its name (from the live pool), falling back to its id. */
export function NameLink({ kind, id }: { kind: ObjectKind; id: number }) {
  const pool = usePool(kind);
  const name = pool.items.find((o) => o.id === id)?.name;
  return <Link to={hrefOf(kind, id)}>{name ? `${name} (#${id})` : `#${id}`}</Link>;
}
