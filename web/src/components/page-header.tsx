import { Breadcrumb, BreadcrumbItem, Content, Flex, FlexItem, PageSection, Title } from '@patternfly/react-core';
import { type ReactNode, useEffect } from 'react';
import { Link } from '../router';

/** The title block of every page; also names the browser tab. */
export function PageHeader({
  title,
  description,
  actions,
  crumbs,
  badge,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  crumbs?: { to: string; label: string }[];
  badge?: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · ONEedge`;
  }, [title]);
  return (
    <PageSection className="oe-page-header">
      {crumbs && (
        <Breadcrumb className="oe-crumbs">
          {crumbs.map((c) => (
            <BreadcrumbItem key={c.to} render={() => <Link to={c.to}>{c.label}</Link>} />
          ))}
          <BreadcrumbItem isActive>{title}</BreadcrumbItem>
        </Breadcrumb>
      )}
      <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsMd' }}>
        <FlexItem>
          <Title headingLevel="h1" size="2xl">
            {title}
          </Title>
        </FlexItem>
        {badge && <FlexItem>{badge}</FlexItem>}
        {actions && <FlexItem align={{ default: 'alignRight' }}>{actions}</FlexItem>}
      </Flex>
      {description && (
        <Content component="p" className="oe-page-desc">
          {description}
        </Content>
      )}
    </PageSection>
  );
}
