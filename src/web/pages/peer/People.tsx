/**
 * Use cases 4, 5 and 8: who is online and what they offer, as a gallery of previews fetched
 * straight from their agents (P2P), and asking for views of an image (or for more views of one
 * already received).
 */
import { useCallback, useState } from 'preact/hooks';
import type { OfferedImageView, PeerView, RequestCreated } from '../../../peer/api-types.js';
import { routeUrl } from '../../../peer/api-route-urls.js';
import { parseCount, plural } from './model.js';
import type { SectionProps } from './section-props.js';
import { ApiImage, CountField, EmptyNote, ProblemNote, useAction } from './ui.js';

export function People(props: SectionProps) {
  const peers = props.data.peers;
  return (
    <>
      <p class="hint">
        People signed in right now, and the images they offer. Previews come straight from their
        computers; the list updates by itself.
      </p>
      <ProblemNote problem={props.problems.peers ?? null} />
      {peers === undefined ? (
        <EmptyNote>Asking the cloud who is online…</EmptyNote>
      ) : peers.length === 0 ? (
        <EmptyNote>Nobody else is online right now.</EmptyNote>
      ) : (
        peers.map((peer) => <PeerGallery key={peer.user_id} peer={peer} {...props} />)
      )}
    </>
  );
}

function PeerGallery(props: SectionProps & { peer: PeerView }) {
  const { peer } = props;
  const titleId = `peer-${peer.username}`;
  return (
    <section class="peer" aria-labelledby={titleId} data-testid={`peer-${peer.username}`}>
      <h3 id={titleId}>
        <span aria-hidden="true">● </span>
        {peer.username} <span class="muted">· online · {plural(peer.images.length, 'image')}</span>
      </h3>
      {peer.images.length === 0 ? (
        <EmptyNote>{peer.username} offers no images.</EmptyNote>
      ) : (
        <ul class="gallery">
          {peer.images.map((image) => (
            <li key={image.image_id}>
              <OfferCard image={image} {...props} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function OfferCard(props: SectionProps & { peer: PeerView; image: OfferedImageView }) {
  const { peer, image, api } = props;
  const [views, setViews] = useState('3');
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const [sent, setSent] = useState<RequestCreated | null>(null);
  const [previewFailed, setPreviewFailed] = useState(false);
  const onPreviewError = useCallback(() => setPreviewFailed(true), []);
  const action = useAction();
  const held = (props.data.received ?? []).find(
    (r) => r.owner === peer.username && r.image_id === image.image_id,
  );
  const id = `ask-${peer.username}-${image.image_id}`;

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const parsed = parseCount(views, 1, 10_000);
    if ('problem' in parsed) {
      setFieldProblem(parsed.problem);
      return;
    }
    setFieldProblem(null);
    setSent(null);
    const created = await action.run(() =>
      api.request(peer.username, image.image_id, parsed.value),
    );
    if (created) {
      setSent(created);
      props.refresh(['sent']);
    }
  };

  return (
    <figure class="offer" data-testid={`offer-${peer.username}-${image.image_id}`}>
      {previewFailed ? (
        <div class="thumb thumb-missing" role="img" aria-label={`No preview of “${image.title}”`}>
          <span aria-hidden="true">?</span>
          <small>Preview unavailable</small>
        </div>
      ) : (
        <ApiImage
          api={api}
          class="thumb"
          path={routeUrl('preview', { username: peer.username, image_id: image.image_id })}
          alt={`Preview of “${image.title}” from ${peer.username}`}
          width={image.width}
          height={image.height}
          onError={onPreviewError}
        />
      )}
      <figcaption>
        <strong>{image.title}</strong>
        {held && <span class="hint"> · you have {plural(held.views_left, 'view')} left</span>}
      </figcaption>
      <form class="inline" onSubmit={(e) => void submit(e)} noValidate>
        <CountField
          id={id}
          label={held ? 'More views' : 'Views'}
          value={views}
          onInput={setViews}
          min={1}
          max={10_000}
        />
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Asking…' : held ? 'Ask for more' : 'Request'}
          <span class="visually-hidden">
            {' '}
            “{image.title}” from {peer.username}
          </span>
        </button>
      </form>
      {fieldProblem && (
        <p class="problem" role="alert">
          {fieldProblem}
        </p>
      )}
      <ProblemNote problem={action.problem} />
      {sent && (
        <p class="success" role="status">
          <span aria-hidden="true">✓ </span>
          Asked {peer.username} for{' '}
          {plural(sent.request.views, sent.request.kind === 'more_views' ? 'more view' : 'view')}.{' '}
          {sent.owner_notified
            ? `${peer.username} sees it now.`
            : `${peer.username} will see it at their next sign-in.`}
        </p>
      )}
    </figure>
  );
}
