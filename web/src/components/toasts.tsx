import { Alert, AlertActionCloseButton, AlertGroup } from '@patternfly/react-core';
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';

interface Toast {
  id: number;
  variant: 'success' | 'info' | 'warning' | 'danger';
  title: string;
  body?: ReactNode;
}

const ToastContext = createContext<(t: Omit<Toast, 'id'>) => void>(() => {});

let nextToast = 1;

/** Short confirmations of what happened ("3 VMs: hold requested"); they leave after 5 s. */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const remove = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, 'id'>) => {
      const id = nextToast++;
      setToasts((ts) => [...ts.slice(-4), { ...t, id }]);
      setTimeout(() => remove(id), t.variant === 'danger' ? 15_000 : 5000);
    },
    [remove],
  );
  const value = useMemo(() => push, [push]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <AlertGroup isToast isLiveRegion>
        {toasts.map((t) => (
          <Alert
            key={t.id}
            variant={t.variant}
            title={t.title}
            actionClose={<AlertActionCloseButton onClose={() => remove(t.id)} />}
          >
            {t.body}
          </Alert>
        ))}
      </AlertGroup>
    </ToastContext.Provider>
  );
}

export function useToast(): (t: Omit<Toast, 'id'>) => void {
  return useContext(ToastContext);
}
