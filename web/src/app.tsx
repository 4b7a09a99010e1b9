import {
  Button,
  Label,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadLogo,
  MastheadMain,
  MastheadToggle,
  Nav,
  NavExpandable,
  NavItem,
  NavList,
  Page,
  PageSidebar,
  PageSidebarBody,
  PageToggleButton,
  SkipToContent,
  Toolbar,
  ToolbarContent,
  ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { type AnchorHTMLAttributes, forwardRef, useEffect, useSyncExternalStore } from 'react';
import { useAuth, useSession } from './data/session';
import { LoginPage } from './pages/login-page';
import { isPlainClick, navigate, usePathname } from './router';
import { Routes } from './routes';

/** The nav tree of Sunstone: resource tabs grouped as Instances, Templates, Storage, Network, Infrastructure, System. */
export const NAV: { group?: string; items: { to: string; label: string }[] }[] = [
  { items: [{ to: '/', label: 'Dashboard' }] },
  { group: 'Instances', items: [{ to: '/vms', label: 'VMs' }] },
  {
    group: 'Templates',
    items: [
      { to: '/templates', label: 'VM Templates' },
      { to: '/vmgroups', label: 'VM Groups' },
    ],
  },
  {
    group: 'Storage',
    items: [
      { to: '/images', label: 'Images' },
      { to: '/datastores', label: 'Datastores' },
    ],
  },
  {
    group: 'Network',
    items: [
      { to: '/vnets', label: 'Virtual Networks' },
      { to: '/secgroups', label: 'Security Groups' },
    ],
  },
  {
    group: 'Infrastructure',
    items: [
      { to: '/clusters', label: 'Clusters' },
      { to: '/hosts', label: 'Hosts' },
    ],
  },
  {
    group: 'System',
    items: [
      { to: '/users', label: 'Users' },
      { to: '/groups', label: 'Groups' },
    ],
  },
];

export function App() {
  const { session } = useAuth();
  const path = usePathname();
  useEffect(() => {
    if (session && path === '/login') navigate('/', { replace: true });
  }, [session, path]);
  if (!session) return <LoginPage />;
  return <Shell />;
}

function isActive(to: string, path: string): boolean {
  return to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`);
}

/** NavItem renders this anchor: plain clicks route in-page, modified clicks open tabs as usual. */
const RouterAnchor = forwardRef<HTMLAnchorElement, AnchorHTMLAttributes<HTMLAnchorElement>>(
  function RouterAnchor(props, ref) {
    return (
      <a
        {...props}
        href={props.href}
        ref={ref}
        onClick={(e) => {
          props.onClick?.(e);
          if (!props.href || !isPlainClick(e)) return;
          e.preventDefault();
          navigate(props.href);
        }}
      />
    );
  },
);

function Shell() {
  const session = useSession();
  const path = usePathname();
  const live = useSyncExternalStore(session.hub.subscribeState, session.hub.getState);

  const masthead = (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton isHamburgerButton aria-label="Global navigation" />
        </MastheadToggle>
        <MastheadBrand>
          <MastheadLogo
            href="/"
            onClick={(e) => {
              if (!isPlainClick(e)) return;
              e.preventDefault();
              navigate('/');
            }}
          >
            <span className="oe-brand">
              <span className="oe-brand-mark" aria-hidden="true" />
              ONEedge
            </span>
          </MastheadLogo>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignEnd' }} alignItems="center">
              <ToolbarItem>
                <Label
                  color={live === 'live' ? 'green' : 'orange'}
                  isCompact
                  data-testid="event-status"
                  data-status={live}
                  title={live === 'live' ? 'Following the event stream' : session.hub.lastError || 'Connecting…'}
                >
                  {live === 'live' ? 'live' : live === 'connecting' ? 'connecting…' : 'reconnecting…'}
                </Label>
              </ToolbarItem>
              <ToolbarItem>
                <span className="oe-user" data-testid="current-user">
                  {session.user.name}
                  {session.user.admin && (
                    <Label isCompact color="purple" className="oe-admin-badge">
                      admin
                    </Label>
                  )}
                </span>
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="secondary" size="sm" onClick={() => void session.logout()}>
                  Log out
                </Button>
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );

  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Main">
          <NavList>
            {NAV.map((section) =>
              section.group ? (
                <NavExpandable
                  key={section.group}
                  title={section.group}
                  groupId={section.group}
                  isExpanded
                  isActive={section.items.some((i) => isActive(i.to, path))}
                >
                  {section.items.map((i) => (
                    <NavItem key={i.to} to={i.to} component={RouterAnchor} isActive={isActive(i.to, path)}>
                      {i.label}
                    </NavItem>
                  ))}
                </NavExpandable>
              ) : (
                section.items.map((i) => (
                  <NavItem key={i.to} to={i.to} component={RouterAnchor} isActive={isActive(i.to, path)}>
                    {i.label}
                  </NavItem>
                ))
              ),
            )}
          </NavList>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );

  return (
    <Page
      masthead={masthead}
      sidebar={sidebar}
      isManagedSidebar
      skipToContent={<SkipToContent href="#oe-main">Skip to content</SkipToContent>}
      mainContainerId="oe-main"
    >
      <Routes path={path} />
    </Page>
  );
}
