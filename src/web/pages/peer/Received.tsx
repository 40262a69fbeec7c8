/**
 * Use cases 7 and 8: images others shared with you, with the views left; opening one uses a
 * view (at zero, or without the right, the default image appears); asking for more views.
 */
import { useState } from 'preact/hooks';
import type { ReceivedView, RequestCreated } from '../../../peer/api-types.js';
import { routeUrl } from '../../../peer/api-route-urls.js';
import { parseCount, plural, receivedBadge, receivedOfflineText } from './model.js';
import type { SectionProps } from './section-props.js';
import { ApiImage, CountField, EmptyNote, ProblemNote, StateBadge, useAction } from './ui.js';

export function Received(props: SectionProps) {
  const received = props.data.received;
  return (
    <>
      <p class="hint">
        Each opening uses one view. When none are left, or the owner took back your access, the
        default image appears instead.
      </p>
      <ProblemNote problem={props.problems.received ?? null} />
      {received === undefined ? (
        <EmptyNote>Loading…</EmptyNote>
      ) : received.length === 0 ? (
        <EmptyNote>Nothing received yet. Ask someone for an image under “People online”.</EmptyNote>
      ) : (
        <ul class="cards" data-testid="received">
          {received.map((r) => (
            <li key={`${r.owner}/${r.image_id}`}>
              <ReceivedCard item={r} {...props} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function ReceivedCard(props: SectionProps & { item: ReceivedView }) {
  const { item, api } = props;
  const title = props.titleOf(item.owner, item.image_id);
  const name = title ? `“${title}”` : item.image_id;
  const badge = receivedBadge(item);
  const offline = receivedOfflineText(item, Date.now());
  const [views, setViews] = useState('2');
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const [sent, setSent] = useState<RequestCreated | null>(null);
  const ask = useAction();
  const ownerOnline = (props.data.peers ?? []).some((p) => p.username === item.owner);
  const titleId = `received-${item.owner}-${item.image_id}`;

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const parsed = parseCount(views, 1, 10_000);
    if ('problem' in parsed) {
      setFieldProblem(parsed.problem);
      return;
    }
    setFieldProblem(null);
    setSent(null);
    const created = await ask.run(() => api.request(item.owner, item.image_id, parsed.value));
    if (created) {
      setSent(created);
      props.refresh(['sent']);
    }
  };

  return (
    <article
      class="card received-card"
      aria-labelledby={titleId}
      data-testid={`received-${item.owner}-${item.image_id}`}
    >
      <div class="image-head">
        {ownerOnline ? (
          <ApiImage
            api={api}
            class="thumb"
            path={routeUrl('preview', { username: item.owner, image_id: item.image_id })}
            alt={`Preview of ${name}`}
          />
        ) : (
          <div
            class="thumb thumb-missing"
            role="img"
            aria-label={`No preview: ${item.owner} is offline`}
          >
            <span aria-hidden="true">◌</span>
            <small aria-hidden="true">{item.owner} is offline</small>
          </div>
        )}
        <div>
          <h3 id={titleId}>{name}</h3>
          <p class="hint">from {item.owner}</p>
          <p>
            <StateBadge badge={badge} testId={`views-left-${item.owner}-${item.image_id}`} />
          </p>
          <p class="hint">{badge.detail}</p>
          {offline && (
            <p class="hint" data-testid={`offline-${item.owner}-${item.image_id}`}>
              {offline}
            </p>
          )}
          <button
            type="button"
            class="primary"
            data-testid={`open-${item.owner}-${item.image_id}`}
            onClick={() =>
              props.openView({ owner: item.owner, image_id: item.image_id, title, own: false })
            }
          >
            Open
            <span class="visually-hidden"> {name}</span>
            {item.state === 'viewable' ? ' (uses 1 view)' : ''}
          </button>
        </div>
      </div>
      <form class="inline more-views" onSubmit={(e) => void submit(e)} noValidate>
        <CountField
          id={`more-${item.owner}-${item.image_id}`}
          label="More views"
          value={views}
          onInput={setViews}
          min={1}
          max={10_000}
        />
        <button type="submit" disabled={ask.busy}>
          {ask.busy ? 'Asking…' : 'Ask for more views'}
          <span class="visually-hidden"> of {name}</span>
        </button>
      </form>
      {fieldProblem && (
        <p class="problem" role="alert">
          {fieldProblem}
        </p>
      )}
      <ProblemNote problem={ask.problem} />
      {sent && (
        <p class="success" role="status">
          <span aria-hidden="true">✓ </span>
          Asked {item.owner} for {plural(sent.request.views, 'more view')}.{' '}
          {sent.owner_notified
            ? `${item.owner} sees it now.`
            : `${item.owner} will see it at their next sign-in.`}
        </p>
      )}
    </article>
  );
}
