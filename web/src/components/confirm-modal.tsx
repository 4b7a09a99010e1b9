import { Button, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import { type ReactNode, useId, useState } from 'react';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { ErrorAlert } from './error-alert';

/**
 * Asks before anything destructive. Focus starts on Cancel, so Enter on a
 * stray key press never destroys; the action's error stays in the dialog.
 */
export function ConfirmModal({
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
  danger = true,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
  danger?: boolean;
}) {
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const cancelId = `${id}-cancel`.replace(/:/g, '');
  return (
    <Modal
      isOpen
      variant="small"
      onClose={onClose}
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      elementToFocus={`#${cancelId}`}
    >
      <ModalHeader title={title} labelId={`${id}-title`} titleIconVariant={danger ? 'warning' : 'info'} />
      <ModalBody id={`${id}-body`}>
        {children}
        {error && <ErrorAlert error={error} />}
      </ModalBody>
      <ModalFooter>
        <Button
          variant={danger ? 'danger' : 'primary'}
          isLoading={busy}
          isDisabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            try {
              await onConfirm();
              onClose();
            } catch (err) {
              setError(toErrorInfo(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          {confirmLabel}
        </Button>
        <Button id={cancelId} variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
