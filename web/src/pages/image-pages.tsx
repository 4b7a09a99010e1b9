import {
  Button,
  FileUpload,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Progress,
  ProgressMeasureLocation,
  Switch,
  TextInput,
} from '@patternfly/react-core';
import { useId, useRef, useState } from 'react';
import { type ApiObject, IMAGE_TYPES } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { useToast } from '../components/toasts';
import { usePool } from '../data/hooks';
import { useSession } from '../data/session';
import { type ErrorInfo, toErrorInfo } from '../lib/errors';
import { navigate } from '../router';
import { PoolPage } from './pool-page';

/** The images list with an *Upload image* button (create in INIT, then stream the file with progress). */
export function ImagesPage() {
  const [uploading, setUploading] = useState(false);
  return (
    <>
      <PoolPage
        kind="image"
        headerActions={
          <Button variant="secondary" onClick={() => setUploading(true)}>
            Upload image
          </Button>
        }
      />
      {uploading && <UploadImageModal onClose={() => setUploading(false)} />}
    </>
  );
}

function quote(v: string): string {
  return `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function mb(bytes: number): string {
  return (bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0);
}

/**
 * `oneedge image create --path FILE` in a dialog: the image is created (INIT)
 * in the chosen datastore, then `PUT /images/{id}/content` streams the file
 * while a progress bar follows the bytes sent. The server checks the size
 * against the datastore before reading (E_DATASTORE_FULL) and detects the
 * format; the image arrives READY.
 */
function UploadImageModal({ onClose }: { onClose: () => void }) {
  const { client } = useSession();
  const toast = useToast();
  const uid = useId().replace(/:/g, '');
  const datastores = usePool('datastore');
  const imageDs = datastores.items.filter((d) => (d as ApiObject<'datastore'>).type === 'IMAGE');
  const [file, setFile] = useState<File | undefined>(undefined);
  const [name, setName] = useState('');
  const [type, setType] = useState<string>('OS');
  const [dsId, setDsId] = useState('');
  const [persistent, setPersistent] = useState(false);
  const [sent, setSent] = useState<{ done: number; total: number } | undefined>(undefined);
  const [created, setCreated] = useState<ApiObject<'image'> | undefined>(undefined);
  const [error, setError] = useState<ErrorInfo | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const chosenDs = dsId || String(imageDs[0]?.id ?? '');

  const start = async () => {
    if (!file) return;
    setBusy(true);
    setError(undefined);
    const controller = new AbortController();
    abort.current = controller;
    try {
      // A retry after a failed upload re-sends into the image already created (still INIT).
      let img = created;
      if (!img) {
        const lines = [`NAME = ${quote(name.trim() || file.name)}`, `TYPE = ${quote(type)}`];
        if (persistent) lines.push('PERSISTENT = "YES"');
        img = await client.create('image', {
          template: `${lines.join('\n')}\n`,
          ...(chosenDs ? { datastore_id: Number(chosenDs) } : {}),
        });
        setCreated(img);
      }
      setSent({ done: 0, total: file.size });
      const done = await client.uploadImage(img.id, file, {
        size: file.size,
        signal: controller.signal,
        onProgress: (d, total) => setSent({ done: d, total }),
      });
      setSent({ done: file.size, total: file.size });
      toast({ variant: 'success', title: `Image ${done.id} (${done.name}) uploaded: ${done.state}` });
      onClose();
      navigate(`/images/${done.id}`);
    } catch (err) {
      setError(
        controller.signal.aborted
          ? { code: 'E_ABORTED', message: 'the upload was cancelled', details: {} }
          : toErrorInfo(err),
      );
    } finally {
      abort.current = null;
      setBusy(false);
    }
  };

  const pct = sent && sent.total > 0 ? Math.min(100, (sent.done / sent.total) * 100) : 0;
  return (
    <Modal
      isOpen
      variant="medium"
      onClose={() => {
        abort.current?.abort();
        onClose();
      }}
      aria-labelledby={`${uid}-title`}
    >
      <ModalHeader
        title="Upload image"
        labelId={`${uid}-title`}
        description="The file streams to the front-end into the image datastore; its format is detected."
      />
      <ModalBody>
        <Form
          id={`${uid}-form`}
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <FormGroup label="File" fieldId={`${uid}-file`} isRequired>
            <FileUpload
              id={`${uid}-file`}
              filename={file?.name ?? ''}
              filenamePlaceholder="Choose a disk image, ISO or root filesystem tarball"
              browseButtonText="Browse…"
              hideDefaultPreview
              isDisabled={busy || created !== undefined}
              onFileInputChange={(_e, f) => {
                setFile(f);
                if (!name) setName(f.name.replace(/\.[^.]+$/, ''));
              }}
              onClearClick={() => setFile(undefined)}
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem>{file ? `${mb(file.size)} MB` : 'raw, qcow2, iso or a rootfs tarball'}</HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Image name" fieldId={`${uid}-name`} isRequired>
            <TextInput
              id={`${uid}-name`}
              value={name}
              isDisabled={busy || created !== undefined}
              onChange={(_e, v) => setName(v)}
            />
          </FormGroup>
          <FormGroup label="Type" fieldId={`${uid}-type`}>
            <FormSelect
              id={`${uid}-type`}
              value={type}
              isDisabled={busy || created !== undefined}
              onChange={(_e, v) => setType(v)}
            >
              {IMAGE_TYPES.map((t) => (
                <FormSelectOption key={t} value={t} label={t} />
              ))}
            </FormSelect>
          </FormGroup>
          <FormGroup label="Datastore" fieldId={`${uid}-ds`}>
            <FormSelect
              id={`${uid}-ds`}
              value={chosenDs}
              isDisabled={busy || created !== undefined}
              onChange={(_e, v) => setDsId(v)}
            >
              {imageDs.map((d) => (
                <FormSelectOption key={d.id} value={String(d.id)} label={`${d.id}: ${d.name}`} />
              ))}
            </FormSelect>
          </FormGroup>
          <Switch
            id={`${uid}-persistent`}
            label="Persistent (one VM at a time; its changes are kept)"
            isChecked={persistent}
            isDisabled={busy || created !== undefined}
            onChange={(_e, on) => setPersistent(on)}
          />
          {sent && (
            <Progress
              data-testid="upload-progress"
              data-sent={sent.done}
              title={`Uploading ${file?.name ?? ''}`}
              value={pct}
              label={`${mb(sent.done)} of ${mb(sent.total)} MB`}
              measureLocation={ProgressMeasureLocation.outside}
              aria-label="Upload progress"
              {...(error ? { variant: 'danger' as const } : pct >= 100 ? { variant: 'success' as const } : {})}
            />
          )}
          {error && (
            <ErrorAlert
              error={error}
              title={created ? `Image ${created.id} stays in INIT (upload again, or delete it)` : 'Cannot upload'}
            />
          )}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button
          type="submit"
          form={`${uid}-form`}
          variant="primary"
          isLoading={busy}
          isDisabled={busy || !file || !(name.trim() || file?.name)}
        >
          {busy ? 'Uploading…' : created ? 'Upload again' : 'Upload'}
        </Button>
        <Button
          variant="link"
          onClick={() => {
            if (busy) abort.current?.abort();
            else onClose();
          }}
        >
          {busy ? 'Cancel upload' : 'Close'}
        </Button>
      </ModalFooter>
    </Modal>
  );
}
