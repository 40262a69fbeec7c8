/**
 * Opening an image: one view is used (the agent checks the copy, the rights and the count),
 * and the dialog shows what the agent answered — the image, or the default image and why.
 * A modal <dialog>: focus moves in, Escape closes it, focus goes back to the button.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiViewRecord } from '../../../peer/api-types.js';
import type { PeerApi } from './api.js';
import { viewCaption, viewerHeading, type Resource } from './model.js';
import { ProblemNote, Spinner, useAction } from './ui.js';

export interface ViewTarget {
  owner: string;
  image_id: string;
  title: string | null;
  /** Own images open any number of times. */
  own: boolean;
}

export function Viewer(props: {
  api: PeerApi;
  target: ViewTarget | null;
  onClose: () => void;
  refresh: (resources: Resource[]) => void;
}) {
  const { api, target, onClose, refresh } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const [record, setRecord] = useState<ApiViewRecord | null>(null);
  const [imageUrl, setImageUrl] = useState<string | null>(null);
  const action = useAction();
  const run = action.run;

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (!target) {
      if (element.open) element.close();
      return;
    }
    setRecord(null);
    setImageUrl(null);
    if (!element.open) element.showModal();
    let objectUrl: string | null = null;
    let cancelled = false;
    void run(async () => {
      const answer = await api.view(target.owner, target.image_id);
      const blob = await api.viewImage(answer);
      if (cancelled) return;
      objectUrl = URL.createObjectURL(blob);
      setRecord(answer);
      setImageUrl(objectUrl);
      refresh(['received']);
    });
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [target, api, run, refresh]);

  const caption = record ? viewCaption(record) : null;
  const shown = record?.verdict === 'shown';
  const heading = viewerHeading(target, record);

  return (
    <dialog
      ref={dialog}
      class="viewer"
      aria-labelledby="viewer-title"
      onClose={onClose}
      data-testid="viewer"
    >
      <div class="viewer-head">
        <h2 id="viewer-title" data-testid="viewer-title">
          {heading}
        </h2>
        <button type="button" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </div>
      {action.busy && <Spinner label="Opening: checking the copy and your views…" />}
      <ProblemNote problem={action.problem} />
      {record && caption && imageUrl && (
        <figure class={shown ? 'view view-shown' : 'view view-default'}>
          <img
            src={imageUrl}
            data-testid="viewer-image"
            data-verdict={record.verdict}
            alt={shown ? heading : 'The default image, shown instead of the picture'}
          />
          <figcaption>
            <strong data-testid="viewer-caption">
              <span aria-hidden="true">{shown ? '✓ ' : '✕ '}</span>
              {caption.title}
            </strong>{' '}
            {caption.detail}
          </figcaption>
        </figure>
      )}
    </dialog>
  );
}
