/**
 * The standard WebSocket event shapes (WHATWG HTML "WebSocket" interface),
 * for `addEventListener` and the `on<event>` properties. Node 20 has no
 * CloseEvent, so these are defined here, with the fields browsers have.
 */
export class WebSocketEvent {
  readonly type: string;
  target: unknown = null;
  currentTarget: unknown = null;
  readonly timeStamp = Date.now();

  constructor(type: string) {
    this.type = type;
  }
}

export class MessageEvent extends WebSocketEvent {
  readonly data: unknown;
  readonly origin: string;
  readonly lastEventId = '';

  constructor(type: string, init: { data?: unknown; origin?: string } = {}) {
    super(type);
    this.data = init.data ?? null;
    this.origin = init.origin ?? '';
  }
}

export class CloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

export class ErrorEvent extends WebSocketEvent {
  readonly error: unknown;
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error ?? null;
    this.message = init.message ?? '';
  }
}

export type WebSocketEventListener = ((event: any) => void) | { handleEvent(event: any): void };
