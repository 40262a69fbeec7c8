/**
 * Use case 6: requests from others, to accept (the viewer's copy is made and sent) or reject,
 * and the requests you sent, with their answers. New ones arrive live.
 */
import { useState } from 'preact/hooks';
import { describeWindow } from '../../../peer/allowance-words.js';
import {
  DEFAULT_OFFLINE_VIEWS,
  DEFAULT_OFFLINE_WINDOW_MS,
  MAX_OFFLINE_VIEWS,
} from '../../../peer/api-types.js';
import type { RequestView } from '../../../peer/api-types.js';
import { formatClock } from '../shared/format.js';
import { parseCount, plural, splitRequests, type Badge } from './model.js';
import type { SectionProps } from './section-props.js';
import { CountField, EmptyNote, ProblemNote, StateBadge, useAction } from './ui.js';

const STATUS_BADGES: Record<RequestView['status'], Badge> = {
  pending: { tone: 'wait', icon: '◔', label: 'Waiting', detail: 'not answered yet' },
  accepted: { tone: 'ok', icon: '✓', label: 'Accepted', detail: 'views granted' },
  rejected: { tone: 'bad', icon: '✕', label: 'Declined', detail: 'no views granted' },
};

export function Requests(props: SectionProps) {
  const inbox = props.data.inbox;
  const sent = props.data.sent;
  const { waiting, answered } = splitRequests(inbox ?? []);
  return (
    <>
      <section aria-labelledby="inbox-title">
        <h3 id="inbox-title">Waiting for your answer</h3>
        <ProblemNote problem={props.problems.inbox ?? null} />
        {inbox === undefined ? (
          <EmptyNote>Loading…</EmptyNote>
        ) : waiting.length === 0 ? (
          <EmptyNote>No requests wait for you.</EmptyNote>
        ) : (
          <ul class="requests" data-testid="inbox">
            {waiting.map((r) => (
              <li key={r.request_id}>
                <InboxItem request={r} {...props} />
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="sent-title">
        <h3 id="sent-title">Your requests</h3>
        <ProblemNote problem={props.problems.sent ?? null} />
        {sent === undefined ? (
          <EmptyNote>Loading…</EmptyNote>
        ) : sent.length === 0 ? (
          <EmptyNote>You have not asked anyone yet: see “People online”.</EmptyNote>
        ) : (
          <ul class="requests" data-testid="sent">
            {[...sent]
              .sort((a, b) => b.created_at_ms - a.created_at_ms)
              .slice(0, 30)
              .map((r) => (
                <li key={r.request_id} class="request">
                  <span>
                    You asked <strong>{r.owner}</strong> for{' '}
                    {plural(r.views, r.kind === 'more_views' ? 'more view' : 'view')} of{' '}
                    {describeImage(props, r.owner, r.image_id)}{' '}
                    <span class="hint">
                      at {formatClock(new Date(r.created_at_ms).toISOString())}
                    </span>
                  </span>
                  <StateBadge badge={STATUS_BADGES[r.status]} />
                </li>
              ))}
          </ul>
        )}
      </section>
      {answered.length > 0 && (
        <section aria-labelledby="answered-title">
          <h3 id="answered-title">Answered by you</h3>
          <ul class="requests">
            {answered.slice(0, 20).map((r) => (
              <li key={r.request_id} class="request">
                <span>
                  <strong>{r.requester}</strong> asked for {plural(r.views, 'view')} of{' '}
                  {describeImage(props, r.owner, r.image_id)}
                </span>
                <StateBadge badge={STATUS_BADGES[r.status]} />
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function describeImage(props: SectionProps, owner: string, imageId: string) {
  const title = props.titleOf(owner, imageId);
  return title ? <>“{title}”</> : <code>{imageId}</code>;
}

function InboxItem(props: SectionProps & { request: RequestView }) {
  const { request: r, api } = props;
  const accept = useAction();
  const reject = useAction();
  const busy = accept.busy || reject.busy;
  const what = `${r.requester}’s request`;
  // The offline allowance is signed into the copy an accept makes; a request for more views
  // changes a copy that already carries one.
  const [offlineViews, setOfflineViews] = useState(String(DEFAULT_OFFLINE_VIEWS));
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const asksOffline = r.kind !== 'more_views';
  const answer = (decision: 'accept' | 'reject'): void => {
    const offline = parseCount(offlineViews, 0, MAX_OFFLINE_VIEWS);
    if (decision === 'accept' && asksOffline && 'problem' in offline) {
      setFieldProblem(`Offline views: ${offline.problem}`);
      return;
    }
    setFieldProblem(null);
    const allowance = asksOffline && 'value' in offline ? offline.value : undefined;
    void (decision === 'accept' ? accept : reject).run(async () => {
      await api.answer(r.request_id, decision, allowance);
      props.refresh(['inbox', 'images', 'status']);
    });
  };
  return (
    <div class="request card" data-testid={`request-${r.requester}-${r.image_id}`}>
      <span>
        <strong>{r.requester}</strong> asks for{' '}
        {plural(r.views, r.kind === 'more_views' ? 'more view' : 'view')} of{' '}
        {describeImage(props, r.owner, r.image_id)}{' '}
        <span class="hint">at {formatClock(new Date(r.created_at_ms).toISOString())}</span>
      </span>
      <span class="row">
        {asksOffline && (
          <CountField
            id={`offline-${r.request_id}`}
            label="Offline views"
            value={offlineViews}
            onInput={setOfflineViews}
            min={0}
            max={MAX_OFFLINE_VIEWS}
            describedBy={`offline-hint-${r.request_id}`}
          />
        )}
        <button type="button" class="primary" disabled={busy} onClick={() => answer('accept')}>
          {accept.busy ? 'Accepting… (making the copy)' : 'Accept'}
          <span class="visually-hidden"> {what}</span>
        </button>
        <button type="button" disabled={busy} onClick={() => answer('reject')}>
          {reject.busy ? 'Declining…' : 'Decline'}
          <span class="visually-hidden"> {what}</span>
        </button>
      </span>
      {asksOffline && (
        <span class="hint" id={`offline-hint-${r.request_id}`}>
          Views {r.requester} may use while their agent cannot reach the cloud, within{' '}
          {describeWindow(DEFAULT_OFFLINE_WINDOW_MS)} of its last contact (0 to {MAX_OFFLINE_VIEWS}
          ).
        </span>
      )}
      {fieldProblem && (
        <p class="problem" role="alert">
          {fieldProblem}
        </p>
      )}
      <ProblemNote problem={accept.problem ?? reject.problem} />
    </div>
  );
}
