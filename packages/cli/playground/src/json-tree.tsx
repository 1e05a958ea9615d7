// A JSON value as a collapsible tree (<details>, so it works with the keyboard
// and screen readers as it is), or pretty-printed text when it is too big.
import type { ComponentChildren } from 'preact';

const MAX_NODES = 2000;

function countNodes(value: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && n <= limit) {
    const v = stack.pop();
    n++;
    if (v !== null && typeof v === 'object') stack.push(...Object.values(v as object));
  }
  return n;
}

export function JsonView({ value }: { value: unknown }) {
  if (countNodes(value, MAX_NODES) > MAX_NODES) {
    return <pre class="json-text">{JSON.stringify(value, null, 2)}</pre>;
  }
  return (
    <div class="json-tree" data-testid="json-tree">
      <Node value={value} depth={0} />
    </div>
  );
}

function Scalar({ value }: { value: unknown }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === 'string') return <span class="j-string">{JSON.stringify(value)}</span>;
  if (typeof value === 'number') return <span class="j-number">{String(value)}</span>;
  return <span class="j-bool">{String(value)}</span>;
}

function Node({ name, value, depth, last = true }: { name?: ComponentChildren; value: unknown; depth: number; last?: boolean }) {
  const comma = last ? '' : ',';
  const label = name !== undefined ? <span class="j-key">{name}: </span> : null;
  if (value === null || typeof value !== 'object') {
    return (
      <div class="j-line">
        {label}
        <Scalar value={value} />
        {comma}
      </div>
    );
  }
  const isArray = Array.isArray(value);
  const entries: Array<[string, unknown]> = isArray ? (value as unknown[]).map((v, i) => [String(i), v]) : Object.entries(value as object);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="j-line">
        {label}
        {open}
        {close}
        {comma}
      </div>
    );
  }
  return (
    <details class="j-node" open={depth < 3}>
      <summary>
        {label}
        {open}
        <span class="j-count">
          {' '}
          {entries.length} {isArray ? (entries.length === 1 ? 'item' : 'items') : entries.length === 1 ? 'key' : 'keys'}{' '}
        </span>
        <span class="j-closed">
          {close}
          {comma}
        </span>
      </summary>
      <div class="j-children">
        {entries.map(([k, v], i) => (
          <Node key={k} name={isArray ? undefined : JSON.stringify(k)} value={v} depth={depth + 1} last={i === entries.length - 1} />
        ))}
      </div>
      <div class="j-line">
        {close}
        {comma}
      </div>
    </details>
  );
}
