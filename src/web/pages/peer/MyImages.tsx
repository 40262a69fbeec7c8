/**
 * Use cases 3 and 9: encrypt an image through the cloud (with its progress, step by step),
 * your images, and who may view each: change a viewer's total views, revoke, add a viewer.
 * A change an offline viewer has not received yet is marked "Waiting for viewer".
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EncryptResult, GrantView, OwnImageView } from '../../../peer/api-types.js';
import { routeUrl } from '../../../peer/api-route-urls.js';
import {
  DEFAULT_OFFLINE_VIEWS,
  ENCRYPT_DONE_STEP,
  MAX_OFFLINE_VIEWS,
} from '../../../peer/api-types.js';
import { formatDuration } from '../shared/format.js';
import {
  describeOffline,
  formatBytes,
  grantBadge,
  operationId,
  parseCount,
  plural,
  titleFromFileName,
  uploadProblem,
  usernameProblem,
  viewsUsedText,
} from './model.js';
import type { SectionProps } from './section-props.js';
import {
  ApiImage,
  ConfirmButton,
  CountField,
  EmptyNote,
  ProblemNote,
  StateBadge,
  useAction,
} from './ui.js';

export function MyImages(props: SectionProps) {
  const images = props.data.images;
  return (
    <>
      <Upload {...props} />
      <section aria-labelledby="own-images-title">
        <h3 id="own-images-title">Your images</h3>
        <ProblemNote problem={props.problems.images ?? null} />
        {images === undefined ? (
          <EmptyNote>Loading your images…</EmptyNote>
        ) : images.length === 0 ? (
          <EmptyNote>You have no images yet: encrypt one above to offer it to others.</EmptyNote>
        ) : (
          <ul class="cards" data-testid="my-images">
            {images.map((image) => (
              <li key={image.image_id}>
                <ImageCard image={image} {...props} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

function Upload(props: SectionProps) {
  const [file, setFile] = useState<File | null>(null);
  const [title, setTitle] = useState('');
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const [steps, setSteps] = useState<string[]>([]);
  const [result, setResult] = useState<EncryptResult | null>(null);
  const action = useAction();
  const operation = useRef<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const onEncryptProgress = props.onEncryptProgress;

  useEffect(
    () =>
      onEncryptProgress((op, step) => {
        if (op !== operation.current || step === ENCRYPT_DONE_STEP) return;
        setSteps((list) => [...list, step].slice(-12));
      }),
    [onEncryptProgress],
  );

  const pick = (input: HTMLInputElement): void => {
    const chosen = input.files?.[0] ?? null;
    setFile(chosen);
    setResult(null);
    const problem = chosen ? uploadProblem(chosen) : null;
    setFileProblem(problem);
    if (chosen && !problem && title.trim() === '') setTitle(titleFromFileName(chosen.name));
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!file) {
      setFileProblem('Choose an image first.');
      fileInput.current?.focus();
      return;
    }
    const problem = uploadProblem(file);
    setFileProblem(problem);
    if (problem) return;
    operation.current = operationId(Math.random);
    setSteps([]);
    setResult(null);
    const done = await action.run(() =>
      props.api.encrypt(
        file,
        title.trim() || titleFromFileName(file.name),
        operation.current ?? '',
      ),
    );
    if (done) {
      setResult(done);
      setFile(null);
      setTitle('');
      if (fileInput.current) fileInput.current.value = '';
      props.refresh(['images', 'status']);
    }
  };

  return (
    <form class="card form upload" onSubmit={(e) => void submit(e)} noValidate>
      <h3>Encrypt and share an image</h3>
      <p class="hint">
        The cloud hides your image inside a cover picture. Others see a small preview and can ask
        you for views; only the people you accept can open it.
      </p>
      <div class="fields">
        <span class="field">
          <label for="upload-file">Image (PNG or JPEG, at most 12 MiB)</label>
          <input
            id="upload-file"
            ref={fileInput}
            type="file"
            accept="image/png,image/jpeg"
            aria-invalid={fileProblem ? 'true' : undefined}
            aria-describedby={fileProblem ? 'upload-file-problem' : undefined}
            onChange={(e) => pick(e.target as HTMLInputElement)}
          />
        </span>
        <span class="field">
          <label for="upload-title">Title others see</label>
          <input
            id="upload-title"
            maxLength={200}
            value={title}
            onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
          />
        </span>
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Encrypting…' : 'Encrypt and offer'}
        </button>
      </div>
      {fileProblem && (
        <p id="upload-file-problem" class="problem" role="alert">
          {fileProblem}
        </p>
      )}
      <ProblemNote problem={action.problem} />
      {(action.busy || steps.length > 0) && (
        <div class="progress" role="status" data-testid="encrypt-progress">
          {action.busy && <progress aria-label="Encrypting in the cloud" />}
          <ol>
            {steps.map((step, i) => (
              <li key={i}>{step}</li>
            ))}
          </ol>
        </div>
      )}
      {result && (
        <p class="success" role="status" data-testid="encrypt-done">
          <span aria-hidden="true">✓ </span>“{result.image.title}” is encrypted (server{' '}
          {result.server_id}, {formatDuration(result.latency_ms)})
          {result.image.offered
            ? ' and offered to people online.'
            : '; it will be offered at your next sign-in.'}
        </p>
      )}
    </form>
  );
}

function ImageCard(props: SectionProps & { image: OwnImageView }) {
  const { image, api, me } = props;
  const download = useAction();
  const withdraw = useAction();
  const [revokeAll, setRevokeAll] = useState(false);
  const waiting = image.grants.filter((g) => g.delivery === 'pending').length;
  const titleId = `image-${image.image_id}-title`;
  return (
    <article
      class="card image-card"
      aria-labelledby={titleId}
      data-testid={`own-${image.image_id}`}
    >
      <div class="image-head">
        <ApiImage
          api={api}
          class="thumb"
          path={routeUrl('ownPreview', { image_id: image.image_id })}
          alt={`Preview of “${image.title}”`}
          width={image.preview.width}
          height={image.preview.height}
        />
        <div>
          <h4 id={titleId}>{image.title}</h4>
          <p class="hint">
            {image.width}×{image.height} · {formatBytes(image.size_bytes)} · id{' '}
            <code>{image.image_id}</code>
            <br />
            <span data-testid={`offer-state-${image.image_id}`}>
              {image.withdrawn
                ? 'Withdrawn: others no longer see it or its preview'
                : image.offered
                  ? 'Offered to others'
                  : 'Not offered yet (at your next sign-in)'}
            </span>
          </p>
          {waiting > 0 && (
            <p class="waiting-note">
              <span aria-hidden="true">◔ </span>
              {plural(waiting, 'change')} waiting for an offline viewer
            </p>
          )}
          <div class="row">
            <button
              type="button"
              onClick={() =>
                props.openView({
                  owner: me,
                  image_id: image.image_id,
                  title: image.title,
                  own: true,
                })
              }
            >
              Open<span class="visually-hidden"> “{image.title}”</span>
            </button>
            <button
              type="button"
              class="button-link"
              disabled={download.busy}
              onClick={() =>
                void download.run(() =>
                  api.download(
                    routeUrl('ownStego', { image_id: image.image_id }),
                    `${image.image_id}.stego.png`,
                  ),
                )
              }
            >
              Download the encrypted PNG<span class="visually-hidden"> of “{image.title}”</span>
            </button>
            {!image.withdrawn && (
              <ConfirmButton
                label={`Withdraw<“${image.title}”`}
                question={`Stop offering “${image.title}”? Others no longer see it or its preview, and nobody new can ask for it.`}
                confirm={`Yes, withdraw<“${image.title}”`}
                keep={`Keep offering<“${image.title}”`}
                busy={withdraw.busy}
                onConfirm={() =>
                  void withdraw.run(async () => {
                    await api.withdraw(image.image_id, revokeAll);
                    props.refresh(['images', 'status']);
                  })
                }
              >
                {image.grants.some((g) => !g.revoked) && (
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={revokeAll}
                      onChange={(e) => setRevokeAll((e.target as HTMLInputElement).checked)}
                    />{' '}
                    Also revoke every viewer’s access (otherwise they keep their views)
                  </label>
                )}
              </ConfirmButton>
            )}
          </div>
          <ProblemNote problem={download.problem ?? withdraw.problem} />
        </div>
      </div>
      <Viewers {...props} />
    </article>
  );
}

function Viewers(props: SectionProps & { image: OwnImageView }) {
  const { image } = props;
  return (
    <div class="viewers">
      {image.grants.length === 0 ? (
        <p class="muted">Nobody may view it yet. Accept a request, or add a viewer below.</p>
      ) : (
        <table class="grants" data-testid={`grants-${image.image_id}`}>
          <caption class="visually-hidden">Who may view “{image.title}”</caption>
          <thead>
            <tr>
              <th scope="col">Viewer</th>
              <th scope="col">Total views</th>
              <th scope="col">Used</th>
              <th scope="col">Offline</th>
              <th scope="col">Delivery</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {image.grants.map((grant) => (
              <GrantRow key={grant.viewer_id} grant={grant} {...props} />
            ))}
          </tbody>
        </table>
      )}
      <AddViewer {...props} />
    </div>
  );
}

function GrantRow(props: SectionProps & { image: OwnImageView; grant: GrantView }) {
  const { grant, image, api } = props;
  const [quota, setQuota] = useState(String(grant.quota));
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const save = useAction();
  const revoke = useAction();
  // A live update (another tab, the CLI) changes the stored quota: show it unless being edited.
  const lastQuota = useRef(grant.quota);
  useEffect(() => {
    if (grant.quota !== lastQuota.current) setQuota(String(grant.quota));
    lastQuota.current = grant.quota;
  }, [grant.quota]);
  const badge = grantBadge(grant);
  const fieldId = `quota-${image.image_id}-${grant.viewer}`;

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const parsed = parseCount(quota, 0, 1_000_000);
    if ('problem' in parsed) {
      setFieldProblem(parsed.problem);
      return;
    }
    setFieldProblem(null);
    const updated = await save.run(() => api.setGrant(image.image_id, grant.viewer, parsed.value));
    if (updated) props.refresh(['images']);
  };

  return (
    <tr data-testid={`grant-${image.image_id}-${grant.viewer}`}>
      <th scope="row">{grant.viewer}</th>
      <td>
        <form class="inline" onSubmit={(e) => void submit(e)} noValidate>
          <CountField
            id={fieldId}
            label={`Total views for ${grant.viewer}`}
            hideLabel
            value={quota}
            onInput={setQuota}
            min={0}
            max={1_000_000}
          />
          <button type="submit" disabled={save.busy}>
            {save.busy ? 'Saving…' : grant.revoked ? 'Allow again' : 'Save'}
            <span class="visually-hidden"> views for {grant.viewer}</span>
          </button>
        </form>
        {fieldProblem && (
          <p class="problem" role="alert">
            {fieldProblem}
          </p>
        )}
        <ProblemNote problem={save.problem ?? revoke.problem} />
      </td>
      <td data-testid={`used-${image.image_id}-${grant.viewer}`}>
        {viewsUsedText(grant) ?? <span class="muted">—</span>}
      </td>
      <td data-testid={`offline-${image.image_id}-${grant.viewer}`}>
        {describeOffline(grant.offline) ?? <span class="muted">set when the copy is made</span>}
      </td>
      <td>
        <StateBadge badge={badge} testId={`delivery-${image.image_id}-${grant.viewer}`} />
        {grant.revoked && grant.delivery === 'pending' && (
          <span class="visually-hidden"> (revocation not delivered yet)</span>
        )}
      </td>
      <td>
        {!grant.revoked && (
          // Revoking cannot be undone without giving the views again: it asks first.
          <ConfirmButton
            label={`Revoke<${grant.viewer}’s access`}
            question={`Revoke ${grant.viewer}’s access to “${image.title}”? From then on ${grant.viewer} sees the default image instead.`}
            confirm={`Yes, revoke<${grant.viewer}’s access`}
            keep={`Keep access<for ${grant.viewer}`}
            busy={revoke.busy}
            onConfirm={() =>
              void revoke.run(async () => {
                await api.revoke(image.image_id, grant.viewer);
                props.refresh(['images']);
              })
            }
          />
        )}
      </td>
    </tr>
  );
}

function AddViewer(props: SectionProps & { image: OwnImageView }) {
  const { image, api } = props;
  const [viewer, setViewer] = useState('');
  const [views, setViews] = useState('3');
  const [offlineViews, setOfflineViews] = useState(String(DEFAULT_OFFLINE_VIEWS));
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const action = useAction();
  const id = `add-${image.image_id}`;

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const name = viewer.trim();
    const nameProblem =
      usernameProblem(name) ?? (name === props.me ? 'You can always open your own images.' : null);
    const parsed = parseCount(views, 1, 1_000_000);
    const offline = parseCount(offlineViews, 0, MAX_OFFLINE_VIEWS);
    const problem =
      nameProblem ??
      ('problem' in parsed ? parsed.problem : null) ??
      ('problem' in offline ? `Offline views: ${offline.problem}` : null);
    setFieldProblem(problem);
    if (problem || 'problem' in parsed || 'problem' in offline) return;
    // A viewer who already has a copy keeps the allowance signed into it.
    const isNew = !image.grants.some((g) => g.viewer === name && g.offline !== null);
    const granted = await action.run(() =>
      api.setGrant(image.image_id, name, parsed.value, isNew ? offline.value : undefined),
    );
    if (granted) {
      setViewer('');
      props.refresh(['images']);
    }
  };

  return (
    <form class="inline add-viewer" onSubmit={(e) => void submit(e)} noValidate>
      <span class="field">
        <label for={`${id}-name`}>Add a viewer</label>
        <input
          id={`${id}-name`}
          placeholder="username"
          autocapitalize="none"
          spellcheck={false}
          maxLength={32}
          value={viewer}
          onInput={(e) => setViewer((e.target as HTMLInputElement).value)}
        />
      </span>
      <CountField
        id={`${id}-views`}
        label="Views"
        value={views}
        onInput={setViews}
        min={1}
        max={1_000_000}
      />
      <CountField
        id={`${id}-offline`}
        label="Offline views"
        value={offlineViews}
        onInput={setOfflineViews}
        min={0}
        max={MAX_OFFLINE_VIEWS}
      />
      <button type="submit" disabled={action.busy}>
        {action.busy ? 'Adding…' : 'Add viewer'}
        <span class="visually-hidden"> to “{image.title}”</span>
      </button>
      {fieldProblem && (
        <p class="problem" role="alert">
          {fieldProblem}
        </p>
      )}
      <ProblemNote problem={action.problem} />
    </form>
  );
}
