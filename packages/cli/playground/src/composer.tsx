// The composer (text, JSON, binary as hex or a file; Ctrl+Enter sends) and
// the saved messages (named, in localStorage, sent again with one click).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SendResult } from './app';
import { formatBytes, parseHex, parseJson, toHex } from './codec';
import { loadSaved, newId, SAVED_CHANGED, storeSaved, type ComposeMode, type SavedMessage } from './saved';

const MODES: Array<[ComposeMode, string]> = [
  ['text', 'Text'],
  ['json', 'JSON'],
  ['binary', 'Binary'],
];
const MAX_SAVED_FILE = 64 * 1024;

/** What a saved or composed message becomes on the wire, or why it cannot be sent. */
function encode(mode: ComposeMode, body: string): { data: string | Uint8Array; pretty?: string } | { error: string } {
  if (mode === 'text') return { data: body };
  if (mode === 'json') {
    const parsed = parseJson(body);
    if ('error' in parsed) return { error: `Invalid JSON: ${parsed.error}` };
    const pretty = JSON.stringify(parsed.value, null, 2);
    return { data: pretty, pretty };
  }
  const bytes = parseHex(body);
  return typeof bytes === 'string' ? { error: bytes } : { data: bytes };
}

export function Composer({ send, connected }: { send: (data: string | Uint8Array) => SendResult; connected: boolean }) {
  const [mode, setMode] = useState<ComposeMode>('text');
  const [drafts, setDrafts] = useState<Record<ComposeMode, string>>({ text: '', json: '{\n  "type": "hello"\n}', binary: '' });
  const [binarySource, setBinarySource] = useState<'hex' | 'file'>('hex');
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [saved, setSaved] = useState<SavedMessage[]>(() => loadSaved());
  const [saveName, setSaveName] = useState('');
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    const reload = (): void => setSaved(loadSaved());
    window.addEventListener(SAVED_CHANGED, reload);
    return () => window.removeEventListener(SAVED_CHANGED, reload);
  }, []);

  const body = drafts[mode];
  const jsonError = mode === 'json' && body.trim() !== '' ? (() => {
    const r = parseJson(body);
    return 'error' in r ? r.error : null;
  })() : null;

  function setBody(value: string): void {
    setDrafts((d) => ({ ...d, [mode]: value }));
    setError(null);
  }

  function report(result: SendResult, what: string): void {
    if (result.ok) {
      setError(null);
      setNote(`Sent ${what}`);
    } else {
      setError(result.error ?? 'Not sent');
      setNote(null);
    }
  }

  async function sendComposed(): Promise<void> {
    if (mode === 'binary' && binarySource === 'file') {
      if (!file) return setError('Choose a file to send');
      const bytes = new Uint8Array(await file.arrayBuffer());
      return report(send(bytes), `${file.name} (${formatBytes(bytes.length)})`);
    }
    const encoded = encode(mode, body);
    if ('error' in encoded) {
      setError(encoded.error);
      setNote(null);
      return;
    }
    if (encoded.pretty !== undefined) setDrafts((d) => ({ ...d, json: encoded.pretty! }));
    const size = typeof encoded.data === 'string' ? new TextEncoder().encode(encoded.data).length : encoded.data.length;
    report(send(encoded.data), `${mode === 'binary' ? 'binary' : mode === 'json' ? 'JSON' : 'text'} message (${formatBytes(size)})`);
  }

  async function save(): Promise<void> {
    const name = saveName.trim();
    if (name === '') return setError('Name the message to save it');
    let savedBody = body;
    if (mode === 'binary' && binarySource === 'file') {
      if (!file) return setError('Choose a file to save');
      if (file.size > MAX_SAVED_FILE) return setError(`Files up to ${formatBytes(MAX_SAVED_FILE)} can be saved`);
      savedBody = toHex(new Uint8Array(await file.arrayBuffer()));
    } else {
      const encoded = encode(mode, body);
      if ('error' in encoded) return setError(encoded.error);
      if (encoded.pretty !== undefined) savedBody = encoded.pretty;
    }
    const next = [...saved.filter((m) => m.name !== name), { id: newId(), name, mode, body: savedBody }];
    const problem = storeSaved(next);
    if (problem) return setError(problem);
    setSaved(next);
    setSaveName('');
    setError(null);
    setNote(`Saved "${name}"`);
  }

  function sendSaved(message: SavedMessage): void {
    const encoded = encode(message.mode, message.body);
    if ('error' in encoded) return setError(`"${message.name}": ${encoded.error}`);
    report(send(encoded.data), `"${message.name}"`);
  }

  function load(message: SavedMessage): void {
    setMode(message.mode);
    if (message.mode === 'binary') setBinarySource('hex');
    setDrafts((d) => ({ ...d, [message.mode]: message.body }));
    setSaveName(message.name);
    setNote(`Loaded "${message.name}" into the composer`);
  }

  function remove(message: SavedMessage): void {
    const next = saved.filter((m) => m.id !== message.id);
    const problem = storeSaved(next);
    if (problem) return setError(problem);
    setSaved(next);
    setNote(`Deleted "${message.name}"`);
  }

  return (
    <section class="panel composer" aria-labelledby="composer-title">
      <h2 id="composer-title">Compose</h2>
      <form
        ref={formRef}
        onSubmit={(e) => {
          e.preventDefault();
          void sendComposed();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void sendComposed();
          }
        }}
      >
        <fieldset class="segmented">
          <legend class="visually-hidden">Message type</legend>
          {MODES.map(([value, label]) => (
            <label key={value} class={mode === value ? 'selected' : ''}>
              <input
                type="radio"
                name="mode"
                value={value}
                checked={mode === value}
                onChange={() => {
                  setMode(value);
                  setError(null);
                }}
              />
              {label}
            </label>
          ))}
        </fieldset>

        {mode === 'binary' && (
          <fieldset class="binary-source">
            <legend class="visually-hidden">Binary data from</legend>
            <label class="check">
              <input type="radio" name="binary-source" checked={binarySource === 'hex'} onChange={() => setBinarySource('hex')} /> Hex
            </label>
            <label class="check">
              <input type="radio" name="binary-source" checked={binarySource === 'file'} onChange={() => setBinarySource('file')} /> File
            </label>
          </fieldset>
        )}

        {mode === 'binary' && binarySource === 'file' ? (
          <div class="field">
            <label for="file">File to send</label>
            <input id="file" type="file" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
            {file && (
              <span class="hint">
                {file.name}, {formatBytes(file.size)}
              </span>
            )}
          </div>
        ) : (
          <div class="field">
            <label for="message">{mode === 'text' ? 'Text message' : mode === 'json' ? 'JSON message' : 'Bytes in hex'}</label>
            <textarea
              id="message"
              rows={mode === 'json' ? 8 : 5}
              value={body}
              spellcheck={false}
              placeholder={mode === 'text' ? 'Hello, server' : mode === 'json' ? '{"type": "hello"}' : '48 65 6c 6c 6f'}
              aria-describedby="composer-hint"
              aria-invalid={jsonError !== null || undefined}
              onInput={(e) => setBody(e.currentTarget.value)}
            />
            {jsonError !== null && <span class="hint invalid">Not valid JSON yet: {jsonError}</span>}
          </div>
        )}

        <div class="send-row">
          <button type="submit" class="primary" aria-describedby="composer-hint">
            Send
          </button>
          {mode === 'json' && (
            <button
              type="button"
              onClick={() => {
                const r = parseJson(body);
                if ('error' in r) setError(`Invalid JSON: ${r.error}`);
                else setBody(JSON.stringify(r.value, null, 2));
              }}
            >
              Format
            </button>
          )}
          <span id="composer-hint" class="hint">
            Ctrl+Enter sends{connected ? '' : ' (once connected)'}
            {mode === 'json' ? '; JSON is checked and pretty-printed first' : ''}
          </span>
        </div>
        <div aria-live="polite" class="composer-status">
          {error && (
            <p class="error" data-testid="composer-error">
              {error}
            </p>
          )}
          {!error && note && <p class="note">{note}</p>}
        </div>

        <div class="save-row">
          <label for="save-name">Save as</label>
          <input id="save-name" type="text" value={saveName} placeholder="name" onInput={(e) => setSaveName(e.currentTarget.value)} />
          <button type="button" onClick={() => void save()}>
            Save message
          </button>
        </div>
      </form>

      <h3 id="saved-title">Saved messages</h3>
      {saved.length === 0 ? (
        <p class="hint">None yet: name a message and save it to send it again with one click. They are kept in this browser.</p>
      ) : (
        <ul class="saved" aria-labelledby="saved-title">
          {saved.map((m) => (
            <li key={m.id}>
              <button type="button" class="saved-send" onClick={() => sendSaved(m)} title={m.body.slice(0, 200)}>
                <span class="visually-hidden">Send </span>
                <span aria-hidden="true" class="play">▶ </span>
                {m.name}
              </button>
              <span class={`badge badge-${m.mode}`}>{m.mode}</span>
              <button type="button" class="link" onClick={() => load(m)} aria-label={`Edit ${m.name}`}>
                Edit
              </button>
              <button type="button" class="link danger" onClick={() => remove(m)} aria-label={`Delete ${m.name}`}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
