// Broadcasting operators: `hub.to(room)`, `.except(...)`, `.volatile`,
// `hub.toUser(id)`. Each publishes through the adapter, so it reaches every process.
import { checkEventName } from '../wire/index.js';
import { codedError } from '../protocol/switchboard-error.js';
import type { Adapter } from './adapter.js';
import type { HubConnection } from './connection.js';
import type { DefaultEvents, EventData, EventNames, EventsMap } from './types.js';
import { encodeData } from './wire.js';

/** `data` serialised once before it is published; a TypeError names the event when it cannot be. */
export function encodeForPublish(event: string, data: unknown): string | undefined {
  try {
    return encodeData(data);
  } catch (error) {
    throw codedError(new TypeError(`The data of "${event}" cannot be serialised: ${error instanceof Error ? error.message : String(error)}`), 'WS_ERR_INVALID_ARGUMENT');
  }
}

/** Connection objects or ids, flattened to ids. */
export function idsOf(clients: Array<HubConnection<any, any> | string | Array<HubConnection<any, any> | string>>): string[] {
  return clients.flat().map((c) => (typeof c === 'string' ? c : c.id));
}

/** `hub.to(room)`: publishes to a room's members, on every process. */
export class RoomOperator<Out extends EventsMap = DefaultEvents> {
  constructor(
    private readonly adapter: Adapter,
    private readonly room: string,
    private readonly excluded: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}

  /** Leaves out these connections (objects or ids). */
  except(...clients: Array<HubConnection<any, any> | string | Array<HubConnection<any, any> | string>>): RoomOperator<Out> {
    return new RoomOperator(this.adapter, this.room, [...this.excluded, ...idsOf(clients)], this.isVolatile);
  }

  /** Volatile: no id, not kept in history, dropped for connections over `maxBufferedAmount`. */
  get volatile(): RoomOperator<Out> {
    return new RoomOperator(this.adapter, this.room, this.excluded, true);
  }

  /** Publishes; resolves with the message's id in the room (0 when volatile). */
  emit<K extends EventNames<Out>>(event: K, data: EventData<Out, K>): Promise<number> {
    checkEventName(event);
    const encoded = encodeForPublish(event, data);
    return this.adapter.publish(this.room, {
      ev: event,
      data,
      encoded,
      ...(this.excluded.length > 0 ? { except: this.excluded } : {}),
      ...(this.isVolatile ? { volatile: true } : {}),
    });
  }
}

/** `hub.toUser(id)`: every connection of a user, on every process. */
export class UserOperator<Out extends EventsMap = DefaultEvents> {
  constructor(
    private readonly adapter: Adapter,
    private readonly user: string,
  ) {}

  emit<K extends EventNames<Out>>(event: K, data: EventData<Out, K>): Promise<void> {
    checkEventName(event);
    return this.adapter.toUser(this.user, event, data);
  }
}
