// The playground: connection panel, handshake, composer and saved messages,
// message log. The connection lives here; the log lives in a LogStore.
import { useEffect, useRef, useState } from 'preact/hooks';
import { reservedHeaderProblem, type PlaygroundConfig, type RelayHandshake } from '../../shared/playground-protocol';
import { describeCloseCode, parseHex, toCompactHex, utf8Length } from './codec';
import { openConnection, type CloseInfo, type Connection, type OpenInfo, type Via } from './connection';
import { Composer } from './composer';
import { initialUrl } from './config';
import { LivePanel } from './live-panel';
import { LiveStats } from './live-stats';
import type { LogStore } from './log-store';
import { LogView } from './log-view';
import { mergeSaved, loadSaved } from './saved';
import { exportSession, importSession, MAX_IMPORT_BYTES } from './session-file';

type Status = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

interface HeaderRow {
  id: number;
  name: string;
  value: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_RETRY_DELAY_MS = 30_000;

export interface SendResult {
  ok: boolean;
  error?: string;
}

export function App({ config, store }: { config: PlaygroundConfig; store: LogStore }) {
  const [url, setUrl] = useState(() => initialUrl(config));
  const [protocols, setProtocols] = useState('');
  const [headers, setHeaders] = useState<HeaderRow[]>([]);
  const [forceRelay, setForceRelay] = useState(false);
  const [autoReconnect, setAutoReconnect] = useState(false);
  const [status, setStatus] = useState<Status>('idle');
  const [via, setVia] = useState<Via>('direct');
  const [openInfo, setOpenInfo] = useState<OpenInfo | null>(null);
  const [closeInfo, setCloseInfo] = useState<CloseInfo | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [handshake, setHandshake] = useState<RelayHandshake | null>(null);
  const [retry, setRetry] = useState<{ attempt: number; seconds: number } | null>(null);
  const [pingData, setPingData] = useState('');
  const [live] = useState(() => new LiveStats());

  const conn = useRef<Connection | null>(null);
  const token = useRef(0);
  const userClosed = useRef(false);
  const attempts = useRef(0);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const autoReconnectRef = useRef(autoReconnect);
  autoReconnectRef.current = autoReconnect;
  const nextHeaderId = useRef(1);

  const activeHeaders = headers.filter((h) => h.name.trim() !== '' || h.value.trim() !== '');
  const wantVia: Via = forceRelay || activeHeaders.length > 0 ? 'relay' : 'direct';
  const busy = status === 'connecting' || status === 'open' || status === 'closing';

  useEffect(() => () => clearTimeout(retryTimer.current), []);

  function cancelRetry(): void {
    clearTimeout(retryTimer.current);
    setRetry(null);
  }

  function connect(isRetry = false): void {
    cancelRetry();
    if (!isRetry) attempts.current = 0;
    const offered = protocols.split(/[\s,]+/).filter(Boolean);
    const badProtocol = offered.find((p) => !TOKEN.test(p));
    if (badProtocol !== undefined) {
      setProblem(`Not a valid subprotocol: ${JSON.stringify(badProtocol)} (letters, digits and !#$%&'*+-.^_\`|~; separate several with commas)`);
      return;
    }
    const pairs: Array<[string, string]> = [];
    for (const h of activeHeaders) {
      const name = h.name.trim();
      if (!TOKEN.test(name)) {
        setProblem(`Not a valid header name: ${JSON.stringify(name)}`);
        return;
      }
      const reserved = reservedHeaderProblem(name);
      if (reserved !== null) {
        setProblem(reserved);
        return;
      }
      pairs.push([name, h.value]);
    }
    const previous = conn.current;
    const mine = ++token.current;
    userClosed.current = false;
    previous?.close(1000, 'reconnecting');
    const current = () => mine === token.current;
    setProblem(null);
    setCloseInfo(null);
    setOpenInfo(null);
    setHandshake(null);
    setVia(wantVia);
    setStatus('connecting');
    store.add('event', 'info', { text: `Connecting to ${url}${wantVia === 'relay' ? ' through the relay' : ''}${offered.length ? `, offering ${offered.join(', ')}` : ''}${pairs.length ? `, with ${pairs.map(([n]) => n).join(', ')}` : ''}` });
    try {
      conn.current = openConnection(
        { url: url.trim(), protocols: offered, headers: pairs, via: wantVia },
        {
          open(info) {
            if (!current()) return;
            attempts.current = 0;
            setStatus('open');
            setOpenInfo(info);
            const extra = [info.protocol && `subprotocol ${info.protocol}`, info.extensions && `extensions ${info.extensions}`].filter(Boolean).join(', ');
            store.add('event', 'open', { text: `Connected to ${info.url}${extra ? ` (${extra})` : ''}` });
          },
          message(data) {
            const size = typeof data === 'string' ? utf8Length(data) : data.length;
            live.received(size);
            if (typeof data === 'string') store.add('in', 'text', { text: data, size });
            else store.add('in', 'binary', { bytes: data, size });
          },
          control(kind, hex) {
            // The pongs to the live panel's own pings are drawn, not logged (one a second).
            if (kind === 'pong' && live.pong(hex, performance.now())?.auto) return;
            store.add('in', kind, { text: hex ? `payload ${hex}` : 'no payload', size: hex.length / 2 });
          },
          handshake(response) {
            if (current()) setHandshake(response);
            store.add('event', 'handshake', { text: `Handshake response: HTTP/${response.httpVersion} ${response.status} ${response.statusText}`, handshake: response });
          },
          error(message) {
            if (current()) setProblem(message);
            store.add('event', 'error', { text: message });
          },
          close(info) {
            live.closed(info.code);
            store.add('event', 'close', { text: `Closed: ${describeCloseCode(info.code)}${info.reason ? ` "${info.reason}"` : ''}${info.wasClean ? '' : ', not clean'}` });
            if (!current()) return;
            conn.current = null;
            setStatus('closed');
            setCloseInfo(info);
            if (autoReconnectRef.current && !userClosed.current) scheduleRetry();
          },
        },
      );
    } catch (error) {
      conn.current = null;
      setStatus('closed');
      setProblem((error as Error).message);
      store.add('event', 'error', { text: (error as Error).message });
    }
  }

  function scheduleRetry(): void {
    const attempt = ++attempts.current;
    const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** (attempt - 1));
    setRetry({ attempt, seconds: delay / 1000 });
    retryTimer.current = setTimeout(() => connect(true), delay);
  }

  function disconnect(): void {
    cancelRetry();
    userClosed.current = true;
    if (conn.current) {
      setStatus('closing');
      conn.current.close(1000, '');
    }
  }

  function send(data: string | Uint8Array): SendResult {
    const c = conn.current;
    if (!c || status !== 'open') return { ok: false, error: 'Not connected: connect first' };
    if (!c.send(data)) return { ok: false, error: 'The connection is not open' };
    const size = typeof data === 'string' ? utf8Length(data) : data.length;
    live.sent(size);
    if (typeof data === 'string') store.add('out', 'text', { text: data, size });
    else store.add('out', 'binary', { bytes: data, size });
    return { ok: true };
  }

  function ping(kind: 'ping' | 'pong'): void {
    const payload = pingData.trim() === '' ? new Uint8Array(0) : parseHex(pingData);
    if (typeof payload === 'string') return setProblem(`${kind} payload: ${payload}`);
    if (payload.length > 125) return setProblem(`A ${kind} carries at most 125 bytes`);
    const hex = toCompactHex(payload);
    conn.current?.control?.(kind, hex);
    if (kind === 'ping') live.pingSent(hex, performance.now(), false);
    store.add('out', kind, { text: hex ? `payload ${hex}` : 'no payload', size: payload.length });
  }

  /** The live panel's ping: a payload of its own, so that its pong is matched (and not logged). */
  function livePing(): void {
    const c = conn.current;
    if (!c?.control) return;
    const hex = live.nextPingPayload();
    c.control('ping', hex);
    live.pingSent(hex, performance.now(), true);
  }

  /** Downloads the last connection's messages and the saved messages as a recording (switchboard replay runs it). */
  function exportFile(): void {
    store.flush();
    const offered = protocols.split(/[\s,]+/).filter(Boolean);
    const pairs = activeHeaders.map((h): [string, string] => [h.name.trim(), h.value]);
    const text = exportSession({ url, protocols: offered, headers: pairs }, store.entries, loadSaved());
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
    link.download = `session-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  async function importFile(file: File): Promise<void> {
    if (file.size > MAX_IMPORT_BYTES) return setProblem(`${file.name}: files up to ${MAX_IMPORT_BYTES / 1024 / 1024} MiB can be imported`);
    const imported = importSession(await file.text(), file.name);
    if ('error' in imported) return setProblem(imported.error);
    setProblem(null);
    if (imported.settings.url) setUrl(imported.settings.url);
    setProtocols(imported.settings.protocols.join(', '));
    setHeaders(imported.settings.headers.map(([name, value]) => ({ id: nextHeaderId.current++, name, value })));
    const stored = mergeSaved(imported.saved);
    if (stored !== null) setProblem(stored);
    store.add('event', 'info', { text: `Imported ${file.name}${imported.recorded ? ` (recorded ${imported.recorded})` : ''}: ${imported.messages.length} messages, ${imported.saved.length} saved messages` });
    for (const m of imported.messages) {
      if (m.opcode === 'text') store.add(m.direction, 'text', { text: m.text, size: utf8Length(m.text!) });
      else store.add(m.direction, 'binary', { bytes: m.bytes, size: m.bytes!.length });
    }
  }

  function updateHeader(id: number, field: 'name' | 'value', value: string): void {
    setHeaders((rows) => rows.map((r) => (r.id === id ? { ...r, [field]: value } : r)));
  }

  let statusText: string;
  switch (status) {
    case 'idle':
      statusText = 'Not connected';
      break;
    case 'connecting':
      statusText = `Connecting${via === 'relay' ? ' through the relay' : ''}…`;
      break;
    case 'open':
      statusText = `Connected${via === 'relay' ? ' through the relay' : ''}`;
      break;
    case 'closing':
      statusText = 'Closing…';
      break;
    case 'closed':
      statusText = closeInfo ? `Closed: ${describeCloseCode(closeInfo.code)}` : 'Not connected';
      break;
  }

  return (
    <div class="app">
      <header class="top">
        <h1>
          <img src="/favicon.svg" alt="" width={24} height={24} /> Switchboard playground
        </h1>
        <span class="server-label">{config.server}</span>
        <span class={`state state-${status}`} data-testid="state" role="status" aria-live="polite">
          {statusText}
        </span>
      </header>

      <section class="panel connection" aria-labelledby="connection-title">
        <h2 id="connection-title" class="visually-hidden">
          Connection
        </h2>
        <form
          class="connect-row"
          onSubmit={(e) => {
            e.preventDefault();
            connect();
          }}
        >
          <div class="field url-field">
            <label for="url">URL</label>
            <input id="url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} spellcheck={false} autocomplete="url" required />
          </div>
          <div class="field protocols-field">
            <label for="protocols">Subprotocols</label>
            <input
              id="protocols"
              type="text"
              value={protocols}
              placeholder="chat.v2, chat.v1"
              onInput={(e) => setProtocols(e.currentTarget.value)}
              spellcheck={false}
              aria-describedby="protocols-hint"
            />
            <span id="protocols-hint" class="visually-hidden">
              Comma-separated, in order of preference
            </span>
          </div>
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Connect
            </button>
            <button type="button" onClick={disconnect} disabled={!busy || status === 'closing'}>
              Disconnect
            </button>
            <button type="button" onClick={() => connect()} disabled={status === 'idle' || status === 'connecting'}>
              Reconnect
            </button>
          </div>
        </form>

        <div class="options-row">
          <label class="check">
            <input type="checkbox" checked={autoReconnect} onChange={(e) => setAutoReconnect(e.currentTarget.checked)} /> Reconnect automatically
          </label>
          <label class="check">
            <input type="checkbox" checked={forceRelay || activeHeaders.length > 0} disabled={activeHeaders.length > 0} onChange={(e) => setForceRelay(e.currentTarget.checked)} />{' '}
            Relay through switchboard
            <span class="hint"> (handshake response, pings; on whenever there are headers)</span>
          </label>
        </div>

        <div class="options-row session-row">
          <button type="button" onClick={exportFile} title="The last connection's messages and the saved messages, in the format switchboard replay runs">
            Export session
          </button>
          <label class="file-button">
            Import session
            <input
              type="file"
              accept=".jsonl,.ndjson,.json,application/x-ndjson,application/json"
              data-testid="import-session"
              onChange={(e) => {
                const input = e.currentTarget;
                const file = input.files?.[0];
                if (file) void importFile(file).finally(() => (input.value = ''));
              }}
            />
          </label>
        </div>

        <details class="headers" open={headers.length > 0}>
          <summary>Request headers{activeHeaders.length > 0 ? ` (${activeHeaders.length})` : ''}</summary>
          <p class="hint">
            Browsers cannot add headers to a WebSocket handshake, so with headers the page connects through the relay in the switchboard process that served it. The relay
            connects only to this machine{config.relayAllow.length > 0 ? ` and ${config.relayAllow.join(', ')}` : ' (start the server with --relay-allow HOST for others)'}.
          </p>
          {headers.map((h, i) => (
            <div class="header-row" key={h.id}>
              <label class="visually-hidden" for={`header-name-${h.id}`}>
                Header {i + 1} name
              </label>
              <input id={`header-name-${h.id}`} type="text" placeholder="Authorization" value={h.name} spellcheck={false} onInput={(e) => updateHeader(h.id, 'name', e.currentTarget.value)} />
              <label class="visually-hidden" for={`header-value-${h.id}`}>
                Header {i + 1} value
              </label>
              <input id={`header-value-${h.id}`} type="text" placeholder="Bearer s3cret" value={h.value} spellcheck={false} onInput={(e) => updateHeader(h.id, 'value', e.currentTarget.value)} />
              <button type="button" class="icon" aria-label={`Remove header ${i + 1}`} onClick={() => setHeaders((rows) => rows.filter((r) => r.id !== h.id))}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setHeaders((rows) => [...rows, { id: nextHeaderId.current++, name: '', value: '' }])}>
            Add header
          </button>
        </details>

        <div class="status-line" data-testid="status-detail">
          {status === 'open' && openInfo && (
            <span>
              {openInfo.url}
              {openInfo.protocol && (
                <>
                  {' · subprotocol '}
                  <code>{openInfo.protocol}</code>
                </>
              )}
              {openInfo.extensions && (
                <>
                  {' · '}
                  <code>{openInfo.extensions}</code>
                </>
              )}
              {' · '}
              {via === 'relay' ? 'via relay' : 'direct'}
            </span>
          )}
          {status === 'closed' && closeInfo && (
            <span data-testid="close-info">
              Closed with {describeCloseCode(closeInfo.code)}
              {closeInfo.reason ? (
                <>
                  , reason <q>{closeInfo.reason}</q>
                </>
              ) : (
                ', no reason'
              )}
              {closeInfo.wasClean ? '' : ' (not a clean close)'}
            </span>
          )}
          {retry && (
            <span>
              {' '}
              · Reconnecting in {retry.seconds} s (attempt {retry.attempt}){' '}
              <button type="button" class="link" onClick={cancelRetry}>
                Cancel
              </button>
            </span>
          )}
          {problem && (
            <p class="error" role="alert" data-testid="problem">
              {problem}
            </p>
          )}
        </div>

        {via === 'relay' && status === 'open' && (
          <div class="ping-row">
            <label for="ping-data">Ping payload (hex)</label>
            <input id="ping-data" type="text" value={pingData} placeholder="optional, up to 125 bytes" spellcheck={false} onInput={(e) => setPingData(e.currentTarget.value)} />
            <button type="button" onClick={() => ping('ping')}>
              Send ping
            </button>
            <button type="button" onClick={() => ping('pong')}>
              Send pong
            </button>
          </div>
        )}

        {handshake && <Handshake response={handshake} />}
      </section>

      {status !== 'idle' && <LivePanel live={live} serverStats={config.stats === true && status === 'open' && openInfo !== null && isServingServer(openInfo.url)} canPing={via === 'relay' && status === 'open'} ping={livePing} />}

      <div class="columns">
        <Composer send={send} connected={status === 'open'} />
        <LogView store={store} />
      </div>
    </div>
  );
}

/** Whether `url` is the server that served this page (its /__stats describes it). */
function isServingServer(url: string): boolean {
  try {
    return new URL(url).host === location.host;
  } catch {
    return false;
  }
}

function Handshake({ response }: { response: RelayHandshake }) {
  const ok = response.status === 101;
  return (
    <details class={`handshake ${ok ? 'ok' : 'refused'}`} open data-testid="handshake">
      <summary>
        Handshake response: <code>{`HTTP/${response.httpVersion} ${response.status} ${response.statusText}`}</code>
      </summary>
      <table>
        <caption class="visually-hidden">Response headers</caption>
        <thead>
          <tr>
            <th scope="col">Header</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {response.headers.map(([name, value], i) => (
            <tr key={i}>
              <th scope="row">{name}</th>
              <td>{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {response.body !== undefined && response.body !== '' && (
        <>
          <h3>Body</h3>
          <pre>{response.body}</pre>
        </>
      )}
    </details>
  );
}
