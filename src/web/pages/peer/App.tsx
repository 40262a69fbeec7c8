/**
 * The peer app: gets its token from the one-time link, then shows what fits the session —
 * register, sign in, or (signed in) the sharing screens in Shell.tsx. Everything a user does
 * with cloudp2p can be done here; see src/web/README.md.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { UiSession } from '../../../peer/ui-types.js';
import { PeerApi, forgetToken, redeemTicket, savedToken } from './api.js';
import { USERNAME_RULE, ticketFromHash, usernameProblem, type Problem } from './model.js';
import { Shell } from './Shell.js';
import { ProblemNote, Spinner, problemOf, useAction } from './ui.js';

type Boot =
  | { phase: 'starting' }
  | { phase: 'need-link'; problem: Problem | null }
  | { phase: 'unreachable'; problem: Problem }
  | { phase: 'ready'; api: PeerApi; session: UiSession }
  | { phase: 'quit' };

/** How long "signing out…" may take before the page asks again. */
const SESSION_RECHECK_MS = 500;

export function App() {
  const [boot, setBoot] = useState<Boot>({ phase: 'starting' });

  const loadSession = useCallback(async (api: PeerApi): Promise<void> => {
    try {
      setBoot({ phase: 'ready', api, session: await api.session() });
    } catch (err) {
      const problem = problemOf(err);
      if (problem.status === 401) {
        forgetToken();
        setBoot({ phase: 'need-link', problem });
      } else setBoot({ phase: 'unreachable', problem });
    }
  }, []);

  useEffect(() => {
    void (async () => {
      const ticket = ticketFromHash(window.location.hash);
      let token = savedToken();
      if (ticket) {
        // The code works once: take it out of the address bar (and history) right away.
        window.history.replaceState(null, '', `${window.location.pathname}#/images`);
        try {
          token = await redeemTicket(ticket);
        } catch (err) {
          // A used link with a token already in this tab (a reload) is fine.
          if (!token) {
            setBoot({ phase: 'need-link', problem: problemOf(err) });
            return;
          }
        }
      }
      if (!token) {
        setBoot({ phase: 'need-link', problem: null });
        return;
      }
      await loadSession(new PeerApi(token));
    })();
  }, [loadSession]);

  const setSession = useCallback(
    (session: UiSession) =>
      setBoot((b) => (b.phase === 'ready' ? { phase: 'ready', api: b.api, session } : b)),
    [],
  );

  useEffect(() => {
    const s = boot.phase === 'ready' ? boot.session : null;
    document.title = s?.username
      ? `${s.username}${s.state === 'signed-in' ? '' : ' (signed out)'} — cloudp2p`
      : 'cloudp2p — share images';
  }, [boot]);

  switch (boot.phase) {
    case 'starting':
      return (
        <Centered title="cloudp2p">
          <Spinner label="Connecting to the cloudp2p program on this computer…" />
        </Centered>
      );
    case 'need-link':
      return <NeedLink problem={boot.problem} />;
    case 'unreachable':
      return (
        <Centered title="cloudp2p">
          <ProblemNote problem={boot.problem} />
          <button type="button" onClick={() => window.location.reload()}>
            Try again
          </button>
        </Centered>
      );
    case 'quit':
      return (
        <Centered title="cloudp2p stopped">
          <p>
            The cloudp2p program has stopped; you can close this tab. To use cloudp2p again, run{' '}
            <code>cloudp2p peer ui</code>.
          </p>
        </Centered>
      );
    case 'ready':
      return (
        <Ready
          api={boot.api}
          session={boot.session}
          setSession={setSession}
          reload={() => loadSession(boot.api)}
          onQuit={() => setBoot({ phase: 'quit' })}
        />
      );
  }
}

function Ready(props: {
  api: PeerApi;
  session: UiSession;
  setSession: (s: UiSession) => void;
  reload: () => Promise<void>;
  onQuit: () => void;
}) {
  const { api, session, setSession, reload } = props;
  // Transitions started elsewhere (a terminal's `peer logout`): ask until they settle.
  useEffect(() => {
    if (session.state !== 'signing-out' && session.state !== 'signing-in') return;
    // A `peer start` agent stops for good when signed out: nothing left to ask.
    if (session.host === 'agent' && session.state === 'signing-out') return;
    const timer = window.setTimeout(() => void reload(), SESSION_RECHECK_MS);
    return () => window.clearTimeout(timer);
  }, [session, reload]);

  switch (session.state) {
    case 'unregistered':
      return <Register api={api} session={session} setSession={setSession} />;
    case 'signed-out':
      return <SignIn api={api} session={session} setSession={setSession} onQuit={props.onQuit} />;
    case 'signing-in':
      return (
        <Centered title="cloudp2p">
          <Spinner label="Signing in: contacting the cloud…" />
        </Centered>
      );
    case 'signing-out':
      return session.host === 'agent' ? (
        <Centered title="Signed out">
          <p data-testid="signed-out-agent">
            {session.username} is signed out and the agent has stopped. To sign in again, run{' '}
            <code>cloudp2p peer ui</code> and open the link it prints.
          </p>
        </Centered>
      ) : (
        <Centered title="cloudp2p">
          <Spinner label="Signing out…" />
        </Centered>
      );
    case 'signed-in':
      return (
        <Shell
          api={api}
          session={session}
          onSignedOut={setSession}
          onSessionChanged={() => void reload()}
        />
      );
  }
}

function Centered({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <main class="centered" id="main">
      <h1>{title}</h1>
      {children}
    </main>
  );
}

function NeedLink({ problem }: { problem: Problem | null }) {
  // A used or expired link: the problem says it once, with the exact command for a new one.
  if (problem?.command)
    return (
      <Centered title={problem.title}>
        <p data-testid="need-link">{problem.detail}</p>
        <pre>
          <code data-testid="link-command">{problem.command}</code>
        </pre>
      </Centered>
    );
  return (
    <Centered title="Open cloudp2p with your link">
      <ProblemNote problem={problem} />
      <p data-testid="need-link">
        This page belongs to the cloudp2p program on this computer. To keep other people and other
        web sites out, it opens only with a one-time link (it works once, within 10 minutes). In a
        terminal, run this and open the link it prints:
      </p>
      <pre>
        <code data-testid="link-command">cloudp2p peer ui</code>
      </pre>
    </Centered>
  );
}

function Register(props: { api: PeerApi; session: UiSession; setSession: (s: UiSession) => void }) {
  const [name, setName] = useState(props.session.suggested_username ?? '');
  const [fieldProblem, setFieldProblem] = useState<string | null>(null);
  const action = useAction();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const problem = usernameProblem(name.trim());
    setFieldProblem(problem);
    if (problem) {
      input.current?.focus();
      return;
    }
    const session = await action.run(() => props.api.register(name.trim()));
    if (session) props.setSession(session);
  };

  return (
    <Centered title="Welcome to cloudp2p">
      <p>
        Share images that only the people you choose can open, a number of times you choose. First,
        pick a username: the cloud gives it a unique id and your computer keeps its key.
      </p>
      <form class="card form" onSubmit={(e) => void submit(e)} noValidate>
        <h2>Register</h2>
        <label for="register-name">Username</label>
        <input
          id="register-name"
          ref={input}
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          maxLength={32}
          required
          value={name}
          aria-invalid={fieldProblem ? 'true' : undefined}
          aria-describedby="register-rule register-problem"
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <p id="register-rule" class="hint">
          {USERNAME_RULE}.
        </p>
        {fieldProblem && (
          <p id="register-problem" class="problem" role="alert">
            {fieldProblem}
          </p>
        )}
        <ProblemNote problem={action.problem} />
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Registering…' : 'Register'}
        </button>
        <p class="hint">Cloud servers: {props.session.servers.join(', ')}</p>
      </form>
    </Centered>
  );
}

function SignIn(props: {
  api: PeerApi;
  session: UiSession;
  setSession: (s: UiSession) => void;
  onQuit: () => void;
}) {
  const { session } = props;
  const action = useAction();
  const quit = useAction();
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), []);
  const signIn = async (): Promise<void> => {
    const next = await action.run(() => props.api.signIn());
    if (next) props.setSession(next);
  };
  const problem =
    action.problem ??
    (session.problem
      ? { status: 0, code: 'sign_in', title: 'The last attempt failed', detail: session.problem }
      : null);
  return (
    <Centered title="cloudp2p">
      <div class="card form">
        <h2>Sign in</h2>
        <p data-testid="signed-out">
          You are signed out. <strong>{session.username}</strong> is registered on this computer
          (user id <code>{session.user_id}</code>).
        </p>
        <p class="hint">
          Signing in tells the cloud you are online, so others can see your images and send you
          theirs; changes they made while you were away are applied now.
        </p>
        <ProblemNote problem={problem} />
        <div class="row">
          <button
            type="button"
            class="primary"
            ref={button}
            disabled={action.busy}
            onClick={() => void signIn()}
          >
            {action.busy ? 'Signing in…' : `Sign in as ${session.username}`}
          </button>
          <button
            type="button"
            disabled={quit.busy}
            onClick={() =>
              void quit.run(async () => {
                await props.api.quit();
                props.onQuit();
              })
            }
          >
            Stop the cloudp2p program
          </button>
        </div>
        <ProblemNote problem={quit.problem} />
      </div>
    </Centered>
  );
}
