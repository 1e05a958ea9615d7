// What a client's `join`, `leave`, `resume`, `pub` and `dm` do (docs/protocol.md,
// sections 4-6), once its connection is open. They run one at a time per
// connection (HubConnection serialises them); a throw is answered `error`.
import { RESERVED_EVENTS, WireError, type ClientMessage } from '../wire/index.js';
import type { HubConnection } from './connection.js';
import type { HubContext, MemberList } from './context.js';
import { encodeData } from './wire.js';

export async function runAction(ctx: HubContext, client: HubConnection<any, any>, message: ClientMessage): Promise<void> {
  const rooms = client.memberships;
  const ack = (id: number | undefined, data: unknown): void => {
    if (id !== undefined) client.send({ t: 'ack', id, data });
  };
  const tooManyRooms = (): WireError => new WireError('too_many_rooms', `A connection may be in at most ${ctx.options.maxRoomsPerConnection} rooms`);
  switch (message.t) {
    case 'join': {
      if (rooms.has(message.room)) {
        // Already a member: nothing to replay (live delivery never stopped).
        const history = await ctx.adapter.history(message.room);
        ack(message.id, { room: message.room, head: history.head, epoch: history.epoch, ...(await ctx.memberList(message.room)) });
        return;
      }
      if (rooms.size >= ctx.options.maxRoomsPerConnection) throw tooManyRooms();
      if (!(await ctx.canJoin(client, message.room))) throw new WireError('forbidden', `Not allowed to join "${message.room}"`);
      const result = await rooms.join(message.room, message.since, message.epoch, client.member());
      if (result === null) return;
      ack(message.id, { room: message.room, head: result.history.head, epoch: result.history.epoch, ...result.members });
      rooms.goLive(message.room, result.history, message.since);
      return;
    }
    case 'leave':
      await rooms.leave(message.room, client.member());
      ack(message.id, { room: message.room });
      return;
    case 'resume': {
      const previous = message.was === undefined ? undefined : new Set(message.was);
      // Null prototype: a room may be called "__proto__".
      const answer: Record<string, ({ head: number; epoch: string } & MemberList) | { error: string }> = Object.create(null);
      const epochs = message.epochs;
      for (const [room, since] of Object.entries(message.rooms)) {
        if (rooms.has(room)) {
          const { head, epoch } = await ctx.adapter.history(room);
          answer[room] = { head, epoch, ...(await ctx.memberList(room)) };
          continue;
        }
        if (rooms.size >= ctx.options.maxRoomsPerConnection) {
          answer[room] = { error: 'too_many_rooms' };
          continue;
        }
        if (!(await ctx.canJoin(client, room))) {
          answer[room] = { error: 'forbidden' };
          continue;
        }
        // Own keys only: a room may be called "__proto__", and an absent one must not read the prototype.
        const epoch = epochs !== undefined && Object.hasOwn(epochs, room) ? epochs[room] : undefined;
        const result = await rooms.join(room, since, epoch, client.member());
        if (result === null) return;
        answer[room] = { head: result.history.head, epoch: result.history.epoch, ...result.members };
        rooms.goLive(room, result.history, since, previous);
      }
      ack(message.id, { rooms: answer });
      return;
    }
    case 'pub': {
      if (!rooms.has(message.room)) throw new WireError('not_member', `Join "${message.room}" before publishing to it`);
      if (RESERVED_EVENTS.has(message.ev)) throw new WireError('bad_message', `"${message.ev}" is a reserved event name`);
      const allowed = ctx.options.canPublish ? await ctx.options.canPublish(client, message.room, message.ev) : true;
      if (!allowed) throw new WireError('forbidden', `Not allowed to publish to "${message.room}"`);
      const mid = await ctx.adapter.publish(message.room, {
        ev: message.ev,
        data: message.data,
        encoded: serialise(message.data),
        from: client.sender(),
        except: [client.id],
        volatile: message.volatile === true,
      });
      ack(message.id, { mid });
      return;
    }
    case 'dm': {
      if (RESERVED_EVENTS.has(message.ev)) throw new WireError('bad_message', `"${message.ev}" is a reserved event name`);
      const allowed = ctx.options.canDirect ? await ctx.options.canDirect(client, message.to, message.ev) : true;
      if (!allowed) throw new WireError('forbidden', 'Not allowed to send this direct message');
      if ('user' in message.to) {
        await ctx.adapter.toUser(message.to.user, message.ev, message.data, client.sender());
        ack(message.id, {});
      } else {
        const delivered = await ctx.adapter.toClient(message.to.client, message.ev, message.data, client.sender());
        ack(message.id, { delivered });
      }
      return;
    }
  }
}

/** `data` serialised before it is published, so nothing unserialisable is stored (see the Adapter contract). */
function serialise(data: unknown): string | undefined {
  try {
    return encodeData(data);
  } catch (error) {
    throw new WireError('bad_message', `"data" cannot be serialised: ${error instanceof Error ? error.message : String(error)}`);
  }
}
