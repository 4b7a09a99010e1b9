import { Alert, ListItem, LoginFooterItem, LoginForm, LoginPage as PfLoginPage } from '@patternfly/react-core';
import { type FormEvent, useState } from 'react';
import { useAuth } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';

/** Username and password → a bearer token kept in this tab's sessionStorage. */
export function LoginPage() {
  const { login, endedBecause } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent | { preventDefault(): void }) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(toErrorInfo(err));
      setBusy(false);
    }
  };

  return (
    <PfLoginPage
      loginTitle="Log in to ONEedge"
      loginSubtitle="Edge cloud manager"
      textContent="Manage hosts, virtual machines, templates, images and networks at the edge."
      brandImgSrc={LOGO}
      brandImgAlt="ONEedge"
      footerListItems={
        <ListItem>
          <LoginFooterItem href="/api/v1/openapi.json">REST API (OpenAPI)</LoginFooterItem>
        </ListItem>
      }
    >
      {endedBecause && !error && (
        <Alert variant="info" isInline title="Your session ended" className="oe-login-alert">
          {endedBecause}
        </Alert>
      )}
      <LoginForm
        showHelperText={!!error}
        helperText={error ? `${error.message} (${error.code})` : undefined}
        usernameLabel="Username"
        usernameValue={username}
        onChangeUsername={(_e, v) => setUsername(v)}
        isValidUsername={!error}
        passwordLabel="Password"
        passwordValue={password}
        onChangePassword={(_e, v) => setPassword(v)}
        isValidPassword={!error}
        isShowPasswordEnabled
        loginButtonLabel={busy ? 'Logging in…' : 'Log in'}
        isLoginButtonDisabled={busy || username.trim() === '' || password === ''}
        onLoginButtonClick={(e) => void submit(e)}
      />
    </PfLoginPage>
  );
}

const LOGO = `data:image/svg+xml,${encodeURIComponent(
  `<svg xmlns="http://www.w3.org/2000/svg" width="220" height="40" viewBox="0 0 220 40"><circle cx="20" cy="20" r="16" fill="#0066cc"/><circle cx="20" cy="20" r="7" fill="#fff"/><text x="46" y="28" font-family="Red Hat Display, sans-serif" font-size="24" font-weight="700" fill="#151515">ONEedge</text></svg>`,
)}`;
