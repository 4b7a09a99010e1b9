import { Button, Flex, FlexItem } from '@patternfly/react-core';
import { useState } from 'react';
import type { ApiObject, ObjectKind } from '../api';
import { useSession } from '../data/session';
import { navigate } from '../router';
import { ConfirmModal } from './confirm-modal';
import { ChmodModal, ChownModal } from './ownership-modals';

/** Permissions, ownership and delete: the actions every object shares. */
export function OwnershipActions({
  kind,
  object,
  afterDelete,
  deleteLabel = 'Delete',
}: {
  kind: ObjectKind;
  object: ApiObject;
  afterDelete?: string;
  deleteLabel?: string;
}) {
  const { client } = useSession();
  const [open, setOpen] = useState<'chmod' | 'chown' | 'delete' | undefined>(undefined);
  return (
    <>
      <Flex spaceItems={{ default: 'spaceItemsSm' }}>
        <FlexItem>
          <Button variant="secondary" onClick={() => setOpen('chmod')}>
            Permissions
          </Button>
        </FlexItem>
        <FlexItem>
          <Button variant="secondary" onClick={() => setOpen('chown')}>
            Owner / group
          </Button>
        </FlexItem>
        {kind !== 'vm' && (
          <FlexItem>
            <Button variant="danger" onClick={() => setOpen('delete')}>
              {deleteLabel}
            </Button>
          </FlexItem>
        )}
      </Flex>
      {open === 'chmod' && <ChmodModal kind={kind} object={object} onClose={() => setOpen(undefined)} />}
      {open === 'chown' && <ChownModal kind={kind} object={object} onClose={() => setOpen(undefined)} />}
      {open === 'delete' && (
        <ConfirmModal
          title={`Delete ${object.name}?`}
          confirmLabel="Delete"
          onClose={() => setOpen(undefined)}
          onConfirm={async () => {
            await client.delete(kind, object.id, object.revision);
            if (afterDelete) navigate(afterDelete);
          }}
        >
          {kind} #{object.id} <strong>{object.name}</strong> will be deleted. This cannot be undone.
        </ConfirmModal>
      )}
    </>
  );
}
