import {
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  EmptyState,
  EmptyStateBody,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { ReactNode } from 'react';
import type { Template, TemplateValue, TemplateVector } from '../api';

/** Term/value pairs; empty values show as a dash. */
export function Facts({ items, columns = 2 }: { items: [string, ReactNode][]; columns?: 1 | 2 | 3 }) {
  return (
    <DescriptionList
      isCompact
      isHorizontal
      horizontalTermWidthModifier={{ default: '24ch' }}
      columnModifier={{ default: '1Col', lg: `${columns}Col` }}
    >
      {items.map(([term, value]) => (
        <DescriptionListGroup key={term}>
          <DescriptionListTerm>{term}</DescriptionListTerm>
          <DescriptionListDescription>{value === '' || value == null ? '-' : value}</DescriptionListDescription>
        </DescriptionListGroup>
      ))}
    </DescriptionList>
  );
}

/** Every occurrence of a vector attribute (DISK, NIC, AR …) in order. */
export function vectors(t: Template, name: string): TemplateVector[] {
  const v = t[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is TemplateVector => typeof x === 'object');
}

export function single(t: Template, name: string): string | undefined {
  const v: TemplateValue | TemplateValue[] | undefined = t[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A table of vector attributes (one row each), columns in the order given and
 * then any other sub-attribute seen.
 */
export function VectorTable({
  rows,
  preferred,
  ariaLabel,
  empty,
}: {
  rows: TemplateVector[];
  preferred: string[];
  ariaLabel: string;
  empty: ReactNode;
}) {
  if (rows.length === 0) {
    return (
      <EmptyState variant="xs" titleText={empty} headingLevel="h3">
        <EmptyStateBody>Nothing in the template.</EmptyStateBody>
      </EmptyState>
    );
  }
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  const cols = [...preferred.filter((p) => seen.has(p)), ...[...seen].filter((k) => !preferred.includes(k)).sort()];
  return (
    <Table aria-label={ariaLabel} variant="compact">
      <Thead>
        <Tr>
          <Th>#</Th>
          {cols.map((c) => (
            <Th key={c}>{c}</Th>
          ))}
        </Tr>
      </Thead>
      <Tbody>
        {rows.map((r, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: vector attributes have no identity but their position
          <Tr key={i}>
            <Td dataLabel="#">{i}</Td>
            {cols.map((c) => (
              <Td key={c} dataLabel={c}>
                {r[c] ?? ''}
              </Td>
            ))}
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}
