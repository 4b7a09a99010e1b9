import { Alert, AlertActionCloseButton } from '@patternfly/react-core';
import { useEffect, useRef } from 'react';
import type { ErrorInfo } from '../lib/errors';

/** An API error as the user sees it everywhere: the message, and the stable code (with the HTTP status). */
export function ErrorAlert({
  error,
  title,
  onClose,
}: {
  error: ErrorInfo;
  /** What was being attempted, e.g. "Cannot save the template". */
  title?: string;
  onClose?: () => void;
}) {
  return (
    <Alert
      variant="danger"
      isInline
      className="oe-error"
      data-code={error.code}
      title={title ? `${title}: ${error.message}` : error.message}
      {...(onClose ? { actionClose: <AlertActionCloseButton onClose={onClose} /> } : {})}
    >
      <span className="oe-error-code">
        Error code <code>{error.code}</code>
        {error.status ? ` (HTTP ${error.status})` : ''}
      </span>
    </Alert>
  );
}

/** Brings the error that follows it into view (the end of a long form in a scrolling dialog). */
export function ScrollIntoView() {
  const ref = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    ref.current?.scrollIntoView({ block: 'nearest' });
  }, []);
  return <span ref={ref} />;
}
