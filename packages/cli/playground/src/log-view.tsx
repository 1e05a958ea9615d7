// The message log: toolbar (search, direction, counters, clear), a
// virtualised list of fixed-height rows (only those on screen are in the
// DOM, so thousands of messages a second do not slow the page down), and the
// selected message in full (JSON as a collapsible tree, binary as a hex dump).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatBytes, formatCount, formatTime, hexDump, parseJson, toHex } from './codec';
import { JsonView } from './json-tree';
import { isJson, MAX_ENTRIES, previewOf, type DirectionFilter, type Entry, type LogStore } from './log-store';

/** Must match .log-row's height in styles.css. */
export const ROW_HEIGHT = 30;
const OVERSCAN = 6;

const DIRECTION_LABEL: Record<Entry['dir'], string> = { in: 'received', out: 'sent', event: 'event' };
const DIRECTION_ICON: Record<Entry['dir'], string> = { in: '↓', out: '↑', event: '•' };

function kindLabel(entry: Entry): string {
  if (entry.kind === 'text' && isJson(entry)) return 'JSON';
  return entry.kind;
}

export function LogView({ store }: { store: LogStore }) {
  const [, setVersion] = useState(store.version);
  const [query, setQuery] = useState('');
  const [direction, setDirection] = useState<DirectionFilter>('all');
  const [selected, setSelected] = useState<Entry | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(360);
  const [follow, setFollow] = useState(true);
  const listRef = useRef<HTMLDivElement>(null);

  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  useEffect(() => store.setFilter(query, direction), [store, query, direction]);
  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    setViewport(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  const view = store.view;
  const total = view.length * ROW_HEIGHT;
  const top = follow ? Math.max(0, total - viewport) : scrollTop;
  useLayoutEffect(() => {
    const el = listRef.current;
    if (follow && el && el.scrollTop !== el.scrollHeight - el.clientHeight) el.scrollTop = el.scrollHeight;
  });

  const start = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(view.length, Math.ceil((top + viewport) / ROW_HEIGHT) + OVERSCAN);
  const rows = view.slice(start, end);
  const selectedIndex = selected ? indexOf(view, selected.seq) : -1;

  function onScroll(e: Event): void {
    const el = e.currentTarget as HTMLDivElement;
    setScrollTop(el.scrollTop);
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT / 2;
    if (atBottom !== follow) setFollow(atBottom);
  }

  function select(index: number): void {
    if (view.length === 0) return;
    const i = Math.max(0, Math.min(view.length - 1, index));
    setSelected(view[i]!);
    const el = listRef.current;
    if (!el) return;
    const rowTop = i * ROW_HEIGHT;
    if (rowTop < el.scrollTop) el.scrollTop = rowTop;
    else if (rowTop + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = rowTop + ROW_HEIGHT - el.clientHeight;
    if (i < view.length - 1) setFollow(false);
  }

  function onKeyDown(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    const current = selectedIndex === -1 ? (e.key === 'ArrowUp' ? view.length : -1) : selectedIndex;
    const moves: Record<string, number> = { ArrowDown: current + 1, ArrowUp: current - 1, PageDown: current + page, PageUp: current - page, Home: 0, End: view.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      select(moves[e.key]!);
    } else if (e.key === 'Escape' && selected) {
      e.preventDefault();
      setSelected(null);
    }
  }

  const c = store.counters;
  const showing = store.filtering ? `${formatCount(view.length)} of ${formatCount(store.entries.length)} shown` : `${formatCount(store.entries.length)} in the log`;

  return (
    <section class="panel log" aria-labelledby="log-title">
      <div class="log-head">
        <h2 id="log-title">Messages</h2>
        <dl class="counters" data-testid="counters">
          <div>
            <dt>
              <span aria-hidden="true">↑ </span>Sent
            </dt>
            <dd data-testid="sent-count">
              {formatCount(c.outMessages)} msg · {formatBytes(c.outBytes)}
            </dd>
          </div>
          <div>
            <dt>
              <span aria-hidden="true">↓ </span>Received
            </dt>
            <dd data-testid="received-count">
              {formatCount(c.inMessages)} msg · {formatBytes(c.inBytes)}
            </dd>
          </div>
        </dl>
      </div>
      <div class="log-toolbar" role="search">
        <label for="log-search" class="visually-hidden">
          Search messages
        </label>
        <input id="log-search" type="search" placeholder="Search messages" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <label for="log-direction" class="visually-hidden">
          Show
        </label>
        <select id="log-direction" value={direction} onChange={(e) => setDirection(e.currentTarget.value as DirectionFilter)}>
          <option value="all">All</option>
          <option value="in">Received</option>
          <option value="out">Sent</option>
          <option value="event">Events</option>
        </select>
        <button
          type="button"
          onClick={() => {
            store.clear();
            setSelected(null);
            setFollow(true);
          }}
        >
          Clear
        </button>
      </div>
      <p class="hint log-summary" aria-live="off">
        {showing}
        {store.dropped > 0 ? ` · ${formatCount(store.dropped)} older dropped (the log keeps ${formatCount(MAX_ENTRIES)})` : ''}
        {!follow && total > viewport && (
          <>
            {' · '}
            <button
              type="button"
              class="link"
              onClick={() => {
                setFollow(true);
              }}
            >
              Jump to latest
            </button>
          </>
        )}
      </p>
      <div
        class="log-list"
        ref={listRef}
        tabIndex={0}
        role="listbox"
        aria-label="Message log (arrow keys select a message)"
        aria-activedescendant={selected && selectedIndex >= start && selectedIndex < end ? `log-row-${selected.seq}` : undefined}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
        data-testid="log-list"
      >
        <div class="log-spacer" style={{ height: `${total}px` }}>
          {rows.map((entry, i) => (
            <div
              key={entry.seq}
              id={`log-row-${entry.seq}`}
              role="option"
              aria-selected={selected?.seq === entry.seq}
              class={`log-row dir-${entry.dir} kind-${entry.kind}${selected?.seq === entry.seq ? ' selected' : ''}`}
              style={{ transform: `translateY(${(start + i) * ROW_HEIGHT}px)` }}
              onClick={() => setSelected(entry)}
              data-testid="log-row"
            >
              <span class="dir" title={DIRECTION_LABEL[entry.dir]}>
                <span aria-hidden="true">{DIRECTION_ICON[entry.dir]}</span>
                <span class="visually-hidden">{DIRECTION_LABEL[entry.dir]}</span>
              </span>
              <time class="time">{formatTime(entry.time)}</time>
              <span class={`badge badge-${kindLabel(entry).toLowerCase()}`}>{kindLabel(entry)}</span>
              <span class="size">{entry.dir === 'event' ? '' : formatBytes(entry.size)}</span>
              <span class="preview">{previewOf(entry)}</span>
            </div>
          ))}
        </div>
        {view.length === 0 && <p class="empty">{store.entries.length === 0 ? 'No messages yet.' : 'No message matches.'}</p>}
      </div>
      {selected ? <Detail entry={selected} onClose={() => setSelected(null)} /> : <p class="hint detail-hint">Select a message (click, or arrow keys in the list) to see it in full and copy it.</p>}
    </section>
  );
}

/** Position of `seq` in `view` (sorted by seq), or -1. */
function indexOf(view: Entry[], seq: number): number {
  let lo = 0;
  let hi = view.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = view[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function copyText(entry: Entry): string {
  if (entry.kind === 'binary' && entry.bytes) return toHex(entry.bytes);
  if (entry.kind === 'handshake' && entry.handshake) {
    const h = entry.handshake;
    return [`HTTP/${h.httpVersion} ${h.status} ${h.statusText}`, ...h.headers.map(([n, v]) => `${n}: ${v}`), ...(h.body ? ['', h.body] : [])].join('\n');
  }
  return entry.text ?? '';
}

async function writeClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
}

function Detail({ entry, onClose }: { entry: Entry; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const [pretty, setPretty] = useState(false);
  useEffect(() => setCopied(false), [entry]);
  const parsed = useMemo(() => (entry.kind === 'text' && isJson(entry) && entry.text !== undefined ? parseJson(entry.text) : null), [entry]);
  const json = parsed && 'value' in parsed ? parsed : null;

  let body;
  if (json) {
    body = pretty ? <pre class="json-text">{JSON.stringify(json.value, null, 2)}</pre> : <JsonView value={json.value} />;
  } else if (entry.kind === 'binary' && entry.bytes) {
    body = <pre class="hexdump">{hexDump(entry.bytes)}</pre>;
  } else if (entry.kind === 'handshake' && entry.handshake) {
    body = <pre class="wrap">{copyText(entry)}</pre>;
  } else {
    body = <pre class="wrap">{entry.text ?? ''}</pre>;
  }

  return (
    <div class="detail" data-testid="detail" aria-label="Selected message" role="region">
      <div class="detail-head">
        <span>
          <strong>
            {entry.dir === 'event' ? 'Event' : `${entry.dir === 'in' ? 'Received' : 'Sent'} ${kindLabel(entry)}${entry.kind === 'text' || entry.kind === 'binary' ? ' message' : ''}`}
          </strong>{' '}
          · {formatTime(entry.time)}
          {entry.dir !== 'event' && ` · ${formatBytes(entry.size)}`}
        </span>
        <span class="detail-actions">
          {json && (
            <button type="button" onClick={() => setPretty(!pretty)} aria-pressed={pretty}>
              {pretty ? 'Tree' : 'Pretty text'}
            </button>
          )}
          <button
            type="button"
            onClick={() => {
              void writeClipboard(copyText(entry)).then(() => setCopied(true));
            }}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
          <button type="button" class="icon" aria-label="Close the message" onClick={onClose}>
            ✕
          </button>
        </span>
      </div>
      <div class="detail-body">{body}</div>
    </div>
  );
}
