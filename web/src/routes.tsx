import { EmptyState, EmptyStateBody, PageSection } from '@patternfly/react-core';
import type { ObjectKind } from './api';
import { ToastProvider } from './components/toasts';
import { DashboardPage } from './pages/dashboard-page';
import { ImagesPage } from './pages/image-pages';
import { ObjectDetailPage } from './pages/object-detail-page';
import { ClustersPage, GroupsPage, HostsPage, PoolPage } from './pages/pool-page';
import { NewTemplatePage, TemplateDetailPage } from './pages/template-pages';
import { VmDetailPage } from './pages/vm-detail-page';
import { VmsPage } from './pages/vms-page';
import { matchPath } from './router';

const DETAIL_KINDS: Record<string, ObjectKind> = {
  images: 'image',
  datastores: 'datastore',
  vnets: 'vnet',
  secgroups: 'secgroup',
  clusters: 'cluster',
  hosts: 'host',
  users: 'user',
  groups: 'group',
  vmgroups: 'vmgroup',
};

/** Path → page. Pages are keyed by path so each object gets fresh state. */
export function Routes({ path }: { path: string }) {
  return <ToastProvider>{page(path)}</ToastProvider>;
}

function page(path: string) {
  if (path === '/' || path === '') return <DashboardPage />;
  if (path === '/vms') return <VmsPage />;
  if (path === '/templates') return <PoolPage kind="template" />;
  if (path === '/templates/new') return <NewTemplatePage />;
  if (path === '/hosts') return <HostsPage />;
  if (path === '/images') return <ImagesPage />;
  if (path === '/clusters') return <ClustersPage />;
  if (path === '/groups') return <GroupsPage />;
  let m = matchPath('/vms/:id', path);
  if (m && /^\d+$/.test(m.id ?? '')) return <VmDetailPage key={path} id={Number(m.id)} />;
  m = matchPath('/templates/:id', path);
  if (m && /^\d+$/.test(m.id ?? '')) return <TemplateDetailPage key={path} id={Number(m.id)} />;
  m = matchPath('/:plural', path);
  if (m?.plural && DETAIL_KINDS[m.plural]) return <PoolPage key={path} kind={DETAIL_KINDS[m.plural]!} />;
  m = matchPath('/:plural/:id', path);
  const kind = m?.plural ? DETAIL_KINDS[m.plural] : undefined;
  if (m && kind && /^\d+$/.test(m.id ?? '')) return <ObjectDetailPage key={path} kind={kind} id={Number(m.id)} />;
  return (
    <PageSection>
      <EmptyState titleText="Page not found" headingLevel="h1">
        <EmptyStateBody>Nothing lives at {path}.</EmptyStateBody>
      </EmptyState>
    </PageSection>
  );
}
