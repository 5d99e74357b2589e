/**
 * The dashboard page: Preact (3 kB, React's API, no build-time compiler
 * beyond JSX) rendering the server's documents, live over Server-Sent Events
 * read with fetch (so the bearer token goes in a header, never in a URL or a
 * cookie). Hash routes: `#/` the list, `#/rollouts/ns/name` one rollout.
 */
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { RolloutDetail, RolloutSummary } from '../view.ts';
import {
  applyListMessage,
  chartPoints,
  enabledActions,
  filterRollouts,
  type ListMessage,
  PHASES,
  parseRoute,
  parseSse,
  phaseCounts,
  type Route,
  rolloutHref,
  tokenFromHash,
} from './state.ts';

const TOKEN_KEY = 'kanary-dashboard-token';

function initialToken(): string {
  const fromHash = tokenFromHash(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', `${location.pathname}#/`);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

let token = initialToken();
const authHeaders = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

type Conn = 'connecting' | 'live' | 'lost' | 'unauthorized';

/** Reads an SSE endpoint with fetch, reconnecting after a loss, until `signal` aborts. */
function subscribe(
  path: string,
  onEvent: (event: string, data: unknown) => void,
  onConn: (c: Conn, detail?: string) => void,
  signal: AbortSignal,
): void {
  let delay = 500;
  const run = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        const res = await fetch(path, { headers: authHeaders(), signal, cache: 'no-store' });
        if (res.status === 401) {
          onConn('unauthorized', (await res.json().catch(() => ({})))?.error);
          return;
        }
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => ({}));
          throw new Error(body?.error ?? `HTTP ${res.status}`);
        }
        onConn('live');
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseSse(buffer + value);
          buffer = parsed.rest;
          for (const e of parsed.events) onEvent(e.event, JSON.parse(e.data));
        }
        throw new Error('the server closed the stream');
      } catch (err) {
        if (signal.aborted) return;
        onConn('lost', (err as Error).message);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  };
  void run();
}

async function put(path: string, body: unknown = {}): Promise<{ message: string; warning?: string }> {
  const res = await fetch(path, {
    method: 'PUT',
    headers: { ...authHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
  return answer;
}

function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Phase({ phase }: { phase: string }) {
  return <span class={`phase phase-${phase.toLowerCase()}`}>{phase || 'Unknown'}</span>;
}

function Banner({ conn, detail }: { conn: Conn; detail?: string }) {
  if (conn === 'live') return null;
  if (conn === 'connecting') return <p class="banner info">Connecting…</p>;
  if (conn === 'unauthorized') return null;
  return (
    <p class="banner warn" role="alert">
      Connection to the dashboard lost{detail ? ` (${detail})` : ''}; reconnecting…
    </p>
  );
}

function TokenForm({ message, onToken }: { message?: string; onToken: (t: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        onToken(value.trim());
      }}
    >
      <p role="alert">{message ?? 'This dashboard needs its token.'} It was printed by `kanary dashboard`.</p>
      <label for="token">Token</label>
      <input
        id="token"
        type="password"
        autocomplete="off"
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <button type="submit">Use token</button>
    </form>
  );
}

function RolloutList({ onConn }: { onConn: (c: Conn, d?: string) => void }) {
  const [list, setList] = useState<RolloutSummary[] | undefined>(undefined);
  const [namespace, setNamespace] = useState('');
  const [status, setStatus] = useState('');
  const [search, setSearch] = useState('');
  useEffect(() => {
    const ac = new AbortController();
    subscribe(
      '/api/v1/rollouts/info/watch',
      (event, data) => setList((l) => applyListMessage(l ?? [], { event, data } as ListMessage)),
      onConn,
      ac.signal,
    );
    return () => ac.abort();
  }, [onConn]);
  const namespaces = useMemo(() => [...new Set((list ?? []).map((r) => r.namespace))].sort(), [list]);
  const counts = useMemo(() => phaseCounts(list ?? []), [list]);
  const shown = useMemo(
    () => filterRollouts(list ?? [], { namespace, status, search }),
    [list, namespace, status, search],
  );
  if (!list) return <p aria-busy="true">Loading rollouts…</p>;
  return (
    <section aria-labelledby="list-title">
      <h2 id="list-title">Rollouts</h2>
      <div class="filters">
        <label>
          Namespace
          <select value={namespace} onChange={(e) => setNamespace(e.currentTarget.value)}>
            <option value="">All namespaces</option>
            {namespaces.map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any status ({list.length})</option>
            {PHASES.map((p) => (
              <option value={p}>
                {p} ({counts[p] ?? 0})
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input
            type="search"
            value={search}
            placeholder="name, namespace or image"
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
      </div>
      <p class="count" aria-live="polite">
        {shown.length} of {list.length} rollouts
      </p>
      <table class="rollouts">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Namespace</th>
            <th scope="col">Strategy</th>
            <th scope="col">Status</th>
            <th scope="col">Step</th>
            <th scope="col">Weight</th>
            <th scope="col">Ready</th>
            <th scope="col">Images</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.key} data-rollout={r.key}>
              <td>
                <a href={rolloutHref(r.namespace, r.name)}>{r.name}</a>
              </td>
              <td>{r.namespace}</td>
              <td>{r.strategy}</td>
              <td>
                <Phase phase={r.phase} />
              </td>
              <td>{r.step || '-'}</td>
              <td class="weight">{r.setWeight ? `${r.setWeight}%` : '-'}</td>
              <td>{r.ready}</td>
              <td class="images">{r.images.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface Pending {
  label: string;
  path: string;
  body?: unknown;
}

function Confirm({
  pending,
  onDone,
}: {
  pending: Pending | undefined;
  onDone: (result?: string, error?: string) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (pending && !ref.current?.open) ref.current?.showModal();
    if (!pending && ref.current?.open) ref.current.close();
  }, [pending]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={() => onDone()}>
      <h3 id="confirm-title">{pending?.label}?</h3>
      <p>This changes the Rollout in the cluster.</p>
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={async () => {
            if (!pending) return;
            setBusy(true);
            try {
              const r = await put(pending.path, pending.body);
              onDone(r.warning ? `${r.message} (${r.warning})` : r.message);
            } catch (err) {
              onDone(undefined, (err as Error).message);
            } finally {
              setBusy(false);
            }
          }}
        >
          Confirm
        </button>
        <button type="button" onClick={() => onDone()} disabled={busy}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

function Chart({ label, values }: { label: string; values: number[] }) {
  const w = 240;
  const h = 60;
  const pts = chartPoints(values, w, h);
  if (pts.length === 0) return <span class="muted">no numeric values</span>;
  return (
    <svg
      class="chart"
      viewBox={`-4 -4 ${w + 8} ${h + 8}`}
      width={w + 8}
      height={h + 8}
      role="img"
      aria-label={label}
    >
      <polyline
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        points={pts.map((p) => `${p.x},${p.y}`).join(' ')}
      />
      {pts.map((p) => (
        <circle cx={p.x} cy={p.y} r="3" fill="currentColor" />
      ))}
    </svg>
  );
}

function RolloutPage({
  namespace,
  name,
  onConn,
}: {
  namespace: string;
  name: string;
  onConn: (c: Conn, d?: string) => void;
}) {
  const [detail, setDetail] = useState<RolloutDetail | undefined>(undefined);
  const [gone, setGone] = useState(false);
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const [undoTo, setUndoTo] = useState('');
  const [container, setContainer] = useState('');
  const [image, setImage] = useState('');
  useEffect(() => {
    const ac = new AbortController();
    setDetail(undefined);
    subscribe(
      `/api/v1/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/info/watch`,
      (event, data) => {
        if (event === 'detail') {
          setDetail(data as RolloutDetail);
          setGone(false);
        } else if (event === 'deleted') setGone(true);
      },
      onConn,
      ac.signal,
    );
    return () => ac.abort();
  }, [namespace, name, onConn]);
  if (!detail) return <p aria-busy="true">Loading {name}…</p>;
  const s = detail.summary;
  const base = `/api/v1/rollouts/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  const ask = (label: string, path: string, body?: unknown) => {
    setResult(undefined);
    setPending({ label, path: `${base}/${path}`, body });
  };
  const canary = s.strategy === 'Canary';
  const enabled = enabledActions(s);
  const selectedContainer = container || detail.containers[0] || '';
  return (
    <article aria-labelledby="ro-title">
      <p>
        <a href="#/">← All rollouts</a>
      </p>
      <h2 id="ro-title">
        {s.name} <span class="muted">in {s.namespace}</span> <Phase phase={s.phase} />
      </h2>
      {gone && (
        <p class="banner warn" role="alert">
          This rollout was deleted.
        </p>
      )}
      {s.message && <p class="message">{s.message}</p>}
      <fieldset class="actions">
        <legend>Actions</legend>
        <button
          type="button"
          class="primary"
          disabled={!enabled.promote}
          onClick={() => ask('Promote', 'promote')}
        >
          Promote
        </button>
        <button
          type="button"
          disabled={!enabled['promote-full']}
          onClick={() => ask('Promote fully (skip all steps and analysis)', 'promote', { full: true })}
        >
          Promote full
        </button>
        <button type="button" disabled={!enabled.pause} onClick={() => ask('Pause', 'pause')}>
          Pause
        </button>
        <button type="button" disabled={!enabled.resume} onClick={() => ask('Resume', 'resume')}>
          Resume
        </button>
        <button type="button" class="danger" disabled={!enabled.abort} onClick={() => ask('Abort', 'abort')}>
          Abort
        </button>
        <button type="button" disabled={!enabled.retry} onClick={() => ask('Retry', 'retry')}>
          Retry
        </button>
        <button type="button" disabled={!enabled.restart} onClick={() => ask('Restart pods', 'restart')}>
          Restart
        </button>
      </fieldset>
      <div class="actions">
        <label>
          Undo to revision
          <select value={undoTo} onChange={(e) => setUndoTo(e.currentTarget.value)}>
            <option value="">choose…</option>
            {detail.revisions.map((r) => (
              <option value={String(r)}>{r}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={!undoTo}
          onClick={() => ask(`Undo to revision ${undoTo}`, `undo/${undoTo}`)}
        >
          Undo
        </button>
        <label>
          Container
          <select value={selectedContainer} onChange={(e) => setContainer(e.currentTarget.value)}>
            {detail.containers.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          New image
          <input
            value={image}
            onInput={(e) => setImage(e.currentTarget.value.trim())}
            placeholder="repo/app:2"
          />
        </label>
        <button
          type="button"
          disabled={!image || !selectedContainer}
          onClick={() =>
            ask(
              `Set image of ${selectedContainer} to ${image}`,
              `set/${encodeURIComponent(selectedContainer)}/${image.split('/').map(encodeURIComponent).join('/')}`,
            )
          }
        >
          Set image
        </button>
      </div>
      <div aria-live="polite">
        {result && (
          <p class={result.ok ? 'result ok' : 'result error'} role={result.ok ? 'status' : 'alert'}>
            {result.text}
          </p>
        )}
      </div>
      <Confirm
        pending={pending}
        onDone={(text, error) => {
          setPending(undefined);
          if (text) setResult({ ok: true, text });
          if (error) setResult({ ok: false, text: error });
        }}
      />
      <section aria-labelledby="summary-title">
        <h3 id="summary-title">Summary</h3>
        <dl class="summary">
          <dt>Strategy</dt>
          <dd>{s.strategy}</dd>
          {canary && (
            <>
              <dt>Step</dt>
              <dd data-testid="step">{s.step || '-'}</dd>
              <dt>Set weight</dt>
              <dd data-testid="set-weight">{s.setWeight}%</dd>
              <dt>Actual weight</dt>
              <dd data-testid="actual-weight">{detail.info.actualWeight}%</dd>
            </>
          )}
          <dt>Replicas</dt>
          <dd>
            desired {detail.info.replicas.desired}, current {detail.info.replicas.current}, updated{' '}
            {detail.info.replicas.updated}, ready {detail.info.replicas.ready}, available{' '}
            {detail.info.replicas.available}
          </dd>
          <dt>Images</dt>
          <dd>
            <ul class="plain">
              {detail.info.images.map((i) => (
                <li>
                  {i.image} {i.tags.length > 0 && <span class="muted">({i.tags.join(', ')})</span>}
                </li>
              ))}
            </ul>
          </dd>
        </dl>
      </section>
      {(detail.served || detail.servedError) && (
        <section aria-labelledby="served-title">
          <h3 id="served-title">Traffic the data plane serves</h3>
          {detail.servedError && (
            <p class="result error" role="alert">
              {detail.servedError}
            </p>
          )}
          {detail.served && (
            <>
              <dl class="summary">
                <dt>Served canary weight</dt>
                <dd data-testid="served-weight">
                  {detail.served.now.weight === undefined
                    ? 'no canary Ingress served'
                    : `${detail.served.now.weight}%`}
                </dd>
                <dt>Canary</dt>
                <dd data-testid="served-canary">{detail.served.now.canaryRps} req/s</dd>
                <dt>Stable</dt>
                <dd data-testid="served-stable">{detail.served.now.stableRps} req/s</dd>
                <dt>Canary share of requests</dt>
                <dd data-testid="served-share">
                  {detail.served.canaryShare === undefined ? 'no requests' : `${detail.served.canaryShare}%`}
                </dd>
              </dl>
              <p class="muted">Canary requests per second, last minute</p>
              <Chart
                label="canary requests per second"
                values={detail.served.history.map((p) => p.canaryRps)}
              />
              <p class="muted">Stable requests per second, last minute</p>
              <Chart
                label="stable requests per second"
                values={detail.served.history.map((p) => p.stableRps)}
              />
              <p class="muted">from {detail.served.source}</p>
            </>
          )}
        </section>
      )}
      {detail.steps.length > 0 && (
        <section aria-labelledby="steps-title">
          <h3 id="steps-title">Steps</h3>
          <ol class="steps">
            {detail.steps.map((st) => (
              <li class={`step ${st.state}`} aria-current={st.state === 'current' ? 'step' : undefined}>
                {st.text}
                {st.state === 'current' && <span class="muted"> (current)</span>}
              </li>
            ))}
          </ol>
        </section>
      )}
      <section aria-labelledby="revisions-title">
        <h3 id="revisions-title">Revisions</h3>
        {detail.info.replicaSets.map((rs) => (
          <div class="revision">
            <h4>
              Revision {rs.revision} <span class="muted">{rs.name}</span>{' '}
              {[rs.stable && 'stable', rs.canary && 'canary', rs.active && 'active', rs.preview && 'preview']
                .filter(Boolean)
                .map((t) => (
                  <span class="tag">{t}</span>
                ))}{' '}
              <Phase phase={rs.status} />
            </h4>
            <p class="muted">
              {rs.images.join(', ')} · {rs.available}/{rs.replicas} available
            </p>
            <ul class="pods">
              {rs.pods.map((p) => (
                <li>
                  {p.name}{' '}
                  <span class="muted">
                    {p.status}, ready {p.ready}
                    {p.restarts ? `, ${p.restarts} restarts` : ''}
                  </span>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </section>
      {detail.analysisRuns.length > 0 && (
        <section aria-labelledby="analysis-title">
          <h3 id="analysis-title">Analysis</h3>
          {detail.analysisRuns.map((run) => (
            <div class="analysis">
              <h4>
                {run.name} <Phase phase={run.phase} />
              </h4>
              {run.message && <p class="muted">{run.message}</p>}
              {run.metrics.map((m) => (
                <div class="metric">
                  <p>
                    {m.name} <span class="muted">{m.phase}</span>
                  </p>
                  <Chart
                    label={`${m.name} measurements`}
                    values={m.measurements.flatMap((x) => x.values.slice(0, 1))}
                  />
                  <p class="muted">{m.measurements.map((x) => x.value || x.phase).join(' · ')}</p>
                </div>
              ))}
            </div>
          ))}
        </section>
      )}
      <section aria-labelledby="conditions-title">
        <h3 id="conditions-title">Conditions</h3>
        <table>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {detail.conditions.map((c) => (
              <tr>
                <td>{c.type}</td>
                <td>{c.status}</td>
                <td>{c.reason}</td>
                <td>{c.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="events-title">
        <h3 id="events-title">Recent events</h3>
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Reason</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {detail.events.map((e) => (
              <tr>
                <td>{e.time}</td>
                <td>{e.type}</td>
                <td>{e.reason}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </article>
  );
}

function App() {
  const route = useRoute();
  const [conn, setConn] = useState<Conn>('connecting');
  const [connDetail, setConnDetail] = useState<string | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const onConn = useMemo(
    () => (c: Conn, d?: string) => {
      setConn(c);
      setConnDetail(d);
    },
    [],
  );
  return (
    <>
      <header>
        <h1>
          <a href="#/">Kanary</a>
        </h1>
        <span class={`conn conn-${conn}`} role="status">
          {conn === 'live'
            ? 'Live'
            : conn === 'lost'
              ? 'Reconnecting'
              : conn === 'unauthorized'
                ? 'Locked'
                : 'Connecting'}
        </span>
      </header>
      <Banner conn={conn} detail={connDetail} />
      <main key={generation}>
        {conn === 'unauthorized' ? (
          <TokenForm
            message={connDetail}
            onToken={(t) => {
              token = t;
              sessionStorage.setItem(TOKEN_KEY, t);
              setConn('connecting');
              setGeneration((g) => g + 1);
            }}
          />
        ) : null}
        {conn !== 'unauthorized' && route.view === 'list' && <RolloutList onConn={onConn} />}
        {conn !== 'unauthorized' && route.view === 'rollout' && (
          <RolloutPage namespace={route.namespace} name={route.name} onConn={onConn} />
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
