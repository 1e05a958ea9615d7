import { render } from 'preact';
import { App } from './app';
import { readConfig } from './config';
import { LogStore } from './log-store';
import './styles.css';

const store = new LogStore();
// For tests and the curious: the log's entries and counters (read-only use).
(window as unknown as { __playground: { store: LogStore } }).__playground = { store };
render(<App config={readConfig()} store={store} />, document.getElementById('app')!);
