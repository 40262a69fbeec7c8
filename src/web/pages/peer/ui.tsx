/** Small pieces every part of the peer page uses: running an action, showing a problem, badges. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, type PeerApi } from './api.js';
import { explainProblem, type Badge, type Problem } from './model.js';

/** A problem from anything thrown (an ApiProblem already has its words). */
export function problemOf(err: unknown): Problem {
  if (err instanceof ApiProblem) return err.problem;
  return explainProblem(500, 'page', err instanceof Error ? err.message : String(err));
}

export interface Action {
  busy: boolean;
  problem: Problem | null;
  /** Runs `task` unless one is running; a failure is kept in `problem` (and returns null). */
  run<T>(task: () => Promise<T>): Promise<T | null>;
  clear(): void;
}

/** One button's worth of state: busy while it runs, the problem when it failed. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const running = useRef(false);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  const run = useCallback(async <T,>(task: () => Promise<T>): Promise<T | null> => {
    if (running.current) return null;
    running.current = true;
    setBusy(true);
    setProblem(null);
    try {
      return await task();
    } catch (err) {
      if (mounted.current) setProblem(problemOf(err));
      return null;
    } finally {
      running.current = false;
      if (mounted.current) setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setProblem(null), []);
  return { busy, problem, run, clear };
}

/** A problem in words, announced at once (role=alert). */
export function ProblemNote({ problem, id }: { problem: Problem | null; id?: string }) {
  if (!problem) return null;
  return (
    <p class="problem" role="alert" id={id}>
      <span class="problem-icon" aria-hidden="true">
        ⚠
      </span>{' '}
      <strong>{/[.!?]$/.test(problem.title) ? problem.title : `${problem.title}.`}</strong>{' '}
      {problem.detail}
      {problem.command && (
        <>
          {' '}
          <code>{problem.command}</code>
        </>
      )}
    </p>
  );
}

/** State as icon + word + colour (never colour alone); `detail` is read after the label. */
export function StateBadge({ badge, testId }: { badge: Badge; testId?: string }) {
  return (
    <span class={`badge badge-${badge.tone}`} title={badge.detail} data-testid={testId}>
      <span aria-hidden="true">{badge.icon}</span> {badge.label}
      <span class="visually-hidden">: {badge.detail}</span>
    </span>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <span class="spinner" role="status">
      <span class="spinner-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function EmptyNote({ children }: { children: ComponentChildren }) {
  return <p class="empty muted">{children}</p>;
}

/** A counter input that keeps the text as typed (validated on submit, not on every key). */
export function CountField(props: {
  id: string;
  label: string;
  value: string;
  onInput: (text: string) => void;
  min: number;
  max: number;
  describedBy?: string;
  hideLabel?: boolean;
}) {
  return (
    <span class="count-field">
      <label for={props.id} class={props.hideLabel ? 'visually-hidden' : undefined}>
        {props.label}
      </label>
      <input
        id={props.id}
        type="number"
        inputMode="numeric"
        min={props.min}
        max={props.max}
        step={1}
        required
        value={props.value}
        aria-describedby={props.describedBy}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </span>
  );
}

/**
 * An image from the agent's API (previews): fetched with the token in a header and shown from a
 * blob: URL, since an <img src> cannot send headers and the token must not be in a URL.
 */
export function ApiImage(props: {
  api: PeerApi;
  path: string;
  alt: string;
  class?: string;
  width?: number;
  height?: number;
  onError?: () => void;
}) {
  const { api, path, onError } = props;
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let current: string | null = null;
    let live = true;
    api.imageUrl(path).then(
      (url) => {
        if (!live) {
          URL.revokeObjectURL(url);
          return;
        }
        current = url;
        setSrc(url);
      },
      () => {
        if (live) onError?.();
      },
    );
    return () => {
      live = false;
      if (current) URL.revokeObjectURL(current);
      setSrc(null);
    };
  }, [api, path, onError]);
  if (!src)
    return (
      <div
        class={`${props.class ?? ''} thumb-loading`}
        role="img"
        aria-label={props.alt}
        aria-busy="true"
      />
    );
  return (
    <img
      class={props.class}
      src={src}
      alt={props.alt}
      {...(props.width ? { width: props.width } : {})}
      {...(props.height ? { height: props.height } : {})}
      onError={onError}
    />
  );
}

/** "Revoke<bob’s access" → "Revoke" shown, " bob’s access" for screen readers only. */
function Labelled({ text }: { text: string }) {
  const [shown, hidden] = text.split('<', 2);
  return (
    <>
      {shown}
      {hidden && <span class="visually-hidden"> {hidden}</span>}
    </>
  );
}

/**
 * A destructive action that asks first, in place: the button turns into the question with a
 * confirm and a keep button (focus moves to "keep", the safe choice). Labels may carry
 * screen-reader-only words after a `<` ("Revoke<bob’s access").
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirm: string;
  keep: string;
  busy: boolean;
  onConfirm: () => void;
  /** More in the question (e.g. an option), shown above its buttons. */
  children?: ComponentChildren;
}) {
  const [asking, setAsking] = useState(false);
  const keep = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) keep.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class="danger" disabled={props.busy} onClick={() => setAsking(true)}>
        <Labelled text={props.label} />
      </button>
    );
  return (
    <div class="confirm" role="group" aria-label={props.question}>
      <p>{props.question}</p>
      {props.children}
      <div class="row">
        <button
          type="button"
          class="danger"
          onClick={() => {
            setAsking(false);
            props.onConfirm();
          }}
        >
          <Labelled text={props.confirm} />
        </button>
        <button type="button" ref={keep} onClick={() => setAsking(false)}>
          <Labelled text={props.keep} />
        </button>
      </div>
    </div>
  );
}
